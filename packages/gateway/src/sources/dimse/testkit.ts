/**
 * @module Test helpers for the DICOM network source: DCMTK as the independent peer, a raw socket
 * SCU for protocol cases DCMTK cannot produce (a connection cut at a chosen byte), and the data
 * set part of a Part 10 file for byte-for-byte comparison.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdir, readdir, readFile, rm } from 'node:fs/promises'
import { connect, createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { CommandField, encodeCommand } from './command.ts'
import { DICOM_APPLICATION_CONTEXT, PduType } from './pdu.ts'

let dcmtk: boolean | undefined

/** False (after a loud skip) when DCMTK is missing outside CI; throws in CI, where a peer must never be skipped. */
export function requireDcmtk(t: TestContext): boolean {
  dcmtk ??= spawnSync('storescu', ['--version'], { stdio: 'ignore' }).status === 0 && spawnSync('echoscu', ['--version'], { stdio: 'ignore' }).status === 0
  if (dcmtk) return true
  const msg = 'DCMTK is not installed (apt-get install dcmtk); this test needs storescu/echoscu as independent peers'
  if (process.env.CI) throw new Error(`CI: ${msg}`)
  console.warn(`\n*** SKIPPED: ${msg} ***\n`)
  t.skip(msg)
  return false
}

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  output: string
}

/** Runs a command; TCP_NODELAY=1 because DCMTK otherwise waits on Nagle for every small PDU. */
export function runTool(cmd: string, args: string[], opts: { env?: Record<string, string>; onSpawn?: (pid: number) => void } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: { ...process.env, TCP_NODELAY: '1', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    p.stdout.on('data', (d: Buffer) => { output += d.toString() })
    p.stderr.on('data', (d: Buffer) => { output += d.toString() })
    p.on('error', reject)
    if (p.pid !== undefined) opts.onSpawn?.(p.pid)
    p.on('close', (code, signal) => resolve({ code, signal, output }))
  })
}

/** The bytes after the File Meta group (PS3.10 7.1): what travels in a C-STORE data set. */
export function datasetOf(file: Uint8Array): Uint8Array {
  const b = Buffer.from(file.buffer, file.byteOffset, file.byteLength)
  if (b.toString('latin1', 128, 132) !== 'DICM') throw new Error('not a Part 10 file')
  let pos = 132
  // Group 0002 is always Explicit VR Little Endian; walk it rather than trust its group length.
  while (pos + 8 <= b.length && b.readUInt16LE(pos) === 0x0002) {
    const vr = b.toString('latin1', pos + 4, pos + 6)
    if (['OB', 'OW', 'OF', 'SQ', 'UT', 'UN', 'UC', 'UR', 'OD', 'OL', 'OV'].includes(vr)) pos += 12 + b.readUInt32LE(pos + 8)
    else pos += 8 + b.readUInt16LE(pos + 6)
  }
  return file.subarray(pos)
}

/** Meta group elements of a Part 10 file as text, by (0002,eeee) element number. */
export function metaOf(file: Uint8Array): Map<number, string> {
  const b = Buffer.from(file.buffer, file.byteOffset, file.byteLength)
  const out = new Map<number, string>()
  let pos = 132
  while (pos + 8 <= b.length && b.readUInt16LE(pos) === 0x0002) {
    const el = b.readUInt16LE(pos + 2)
    const vr = b.toString('latin1', pos + 4, pos + 6)
    const long = ['OB', 'OW', 'OF', 'SQ', 'UT', 'UN', 'UC', 'UR', 'OD', 'OL', 'OV'].includes(vr)
    const len = long ? b.readUInt32LE(pos + 8) : b.readUInt16LE(pos + 6)
    const start = pos + (long ? 12 : 8)
    out.set(el, b.toString('latin1', start, start + len).replace(/[\0 ]+$/, ''))
    pos = start + len
  }
  return out
}

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, stepMs = 5): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, stepMs))
  }
}

function item(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(4)
  h[0] = type
  h.writeUInt16BE(body.length, 2)
  return Buffer.concat([h, body])
}

/** An A-ASSOCIATE-RQ as a requester builds it (PS3.8 9.3.2). */
export function associateRq(o: { calledAE: string; callingAE: string; contexts: Array<{ id: number; abstractSyntax: string; transferSyntaxes: string[] }>; maxPdu?: number }): Buffer {
  const fixed = Buffer.alloc(68)
  fixed.writeUInt16BE(1, 0)
  fixed.write(o.calledAE.padEnd(16), 4, 'latin1')
  fixed.write(o.callingAE.padEnd(16), 20, 'latin1')
  const items = [item(0x10, Buffer.from(DICOM_APPLICATION_CONTEXT))]
  for (const c of o.contexts) {
    items.push(item(0x20, Buffer.concat([Buffer.from([c.id, 0, 0, 0]), item(0x30, Buffer.from(c.abstractSyntax)), ...c.transferSyntaxes.map((t) => item(0x40, Buffer.from(t)))])))
  }
  const max = Buffer.alloc(4)
  max.writeUInt32BE(o.maxPdu ?? 16384, 0)
  items.push(item(0x50, Buffer.concat([item(0x51, max), item(0x52, Buffer.from('1.2.3.4')), item(0x53, Buffer.from([0, 1, 0, 1]))])))
  const body = Buffer.concat([fixed, ...items])
  const h = Buffer.alloc(6)
  h[0] = PduType.AssociateRq
  h.writeUInt32BE(body.length, 2)
  return Buffer.concat([h, body])
}

export function pdata(contextId: number, isCommand: boolean, last: boolean, data: Buffer): Buffer {
  const h = Buffer.alloc(12)
  h[0] = PduType.PDataTf
  h.writeUInt32BE(data.length + 6, 2)
  h.writeUInt32BE(data.length + 2, 6)
  h[10] = contextId
  h[11] = (isCommand ? 1 : 0) | (last ? 2 : 0)
  return Buffer.concat([h, data])
}

export function cStoreRq(sopClass: string, sopInstance: string, messageId = 1): Buffer {
  return encodeCommand({ AffectedSOPClassUID: sopClass, CommandField: CommandField.CStoreRq, MessageID: messageId, Priority: 0, CommandDataSetType: 0x0000, AffectedSOPInstanceUID: sopInstance })
}

/** A raw TCP peer: send bytes, read whole PDUs back. */
export class RawPeer {
  private buf = Buffer.alloc(0)
  private waiters: Array<() => void> = []
  closed = false

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.wake() })
    socket.on('close', () => { this.closed = true; this.wake() })
    socket.on('error', () => {})
  }

  static connect(port: number): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new RawPeer(s)))
      s.once('error', reject)
    })
  }

  private wake(): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  send(b: Buffer): void {
    this.socket.write(b)
  }

  /** The next PDU, or null if the connection closed first. */
  async pdu(timeoutMs = 5000): Promise<{ type: number; body: Buffer } | null> {
    const end = Date.now() + timeoutMs
    for (;;) {
      if (this.buf.length >= 6) {
        const len = this.buf.readUInt32BE(2)
        if (this.buf.length >= 6 + len) {
          const out = { type: this.buf[0]!, body: this.buf.subarray(6, 6 + len) }
          this.buf = this.buf.subarray(6 + len)
          return out
        }
      }
      if (this.closed) return null
      if (Date.now() > end) throw new Error('timed out waiting for a PDU')
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 50) })
    }
  }

  destroy(): void {
    this.socket.destroy()
  }
}

/** A free TCP port on loopback (closed again before returning). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const a = s.address()
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0))
    })
  })
}

/**
 * DCMTK's own receiver writing exactly what arrived (`storescp +B`, all transfer syntaxes): the
 * oracle for "what storescu put on the wire", since storescu drops group length elements
 * ((gggg,0000), retired outside group 0000/0002) when it sends.
 */
export class DcmtkReceiver {
  private constructor(readonly port: number, readonly dir: string, private readonly proc: ChildProcess) {}

  static async start(dir: string): Promise<DcmtkReceiver> {
    await mkdir(dir, { recursive: true })
    const port = await freePort()
    const proc = spawn('storescp', ['+B', '+xa', '-od', dir, String(port)], { stdio: 'ignore', env: { ...process.env, TCP_NODELAY: '1' } })
    await waitFor('storescp to listen', () => new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(true) })
      s.on('error', () => resolve(false))
    }), 10_000, 50)
    return new DcmtkReceiver(port, dir, proc)
  }

  /** Sends one file with storescu and returns the file storescp wrote. */
  async receive(file: string, flags: string[]): Promise<Uint8Array> {
    for (const n of await readdir(this.dir)) await rm(join(this.dir, n), { force: true })
    const r = await runTool('storescu', ['-aec', 'ANY-SCP', ...flags, '127.0.0.1', String(this.port), file])
    if (r.code !== 0) throw new Error(`storescu to storescp failed: ${r.output}`)
    const names = await readdir(this.dir)
    if (names.length !== 1) throw new Error(`storescp wrote ${names.length} files`)
    return readFile(join(this.dir, names[0]!))
  }

  stop(): void {
    this.proc.kill('SIGTERM')
  }
}
