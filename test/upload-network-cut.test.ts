/**
 * Network cut (issue 4): a loopback TCP proxy between the gateway's tus client and a real hub
 * closes every connection after a random number of bytes, so PATCHes, HEADs and the completing
 * PATCH all break at arbitrary points. Every upload must resume and complete, the hub's stored
 * object must hash to the source's SHA-256, and nothing may be stored twice (also when the
 * gateway, unsure, uploads the same object again).
 *
 * The large object is KURA_TEST_CUT_MB (default 1024, i.e. 1 GiB), generated streamed into
 * os.tmpdir() and deleted afterwards; it must finish within ~2 minutes on a 2-core machine.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { once } from 'node:events'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { writeDicom } from '@kura/dicom'
import { objectKeyFor } from '@kura/hub'
import { listInstances } from '@kura/storage'
import { TusClient } from '../packages/gateway/src/upload/tus-client.ts'
import { startTestHub, type TestHub } from './support/hub.ts'

const ROWS = 512
const COLS = 512
const FRAME_BYTES = ROWS * COLS * 2
const MiB = 1024 * 1024

interface Source {
  file: string
  size: number
  sha256: string
  study: string
  sop: string
}

let uidSeq = 0
const uid = () => `2.25.${BigInt('0x' + randomBytes(12).toString('hex'))}${++uidSeq}`

/** A multi-frame Secondary Capture object of about `mb` MiB, written frame by frame (never whole in memory). */
async function writeObject(dir: string, mb: number): Promise<Source> {
  const frames = Math.max(1, Math.ceil((mb * MiB) / FRAME_BYTES))
  const study = uid()
  const sop = uid()
  const header = Buffer.from(writeDicom({
    dataset: [
      { tag: 0x00080016, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.7.3' },
      { tag: 0x00080018, vr: 'UI', value: sop },
      { tag: 0x00080060, vr: 'CS', value: 'OT' },
      { tag: 0x0020000d, vr: 'UI', value: study },
      { tag: 0x0020000e, vr: 'UI', value: uid() },
      { tag: 0x00280002, vr: 'US', value: 1 },
      { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
      { tag: 0x00280008, vr: 'IS', value: String(frames) },
      { tag: 0x00280010, vr: 'US', value: ROWS },
      { tag: 0x00280011, vr: 'US', value: COLS },
      { tag: 0x00280100, vr: 'US', value: 16 },
      { tag: 0x00280101, vr: 'US', value: 16 },
      { tag: 0x00280102, vr: 'US', value: 15 },
      { tag: 0x00280103, vr: 'US', value: 0 },
    ],
  }))
  const pixelHeader = Buffer.alloc(12)
  pixelHeader.writeUInt16LE(0x7fe0, 0)
  pixelHeader.writeUInt16LE(0x0010, 2)
  pixelHeader.write('OW', 4, 'latin1')
  pixelHeader.writeUInt32LE(frames * FRAME_BYTES, 8)
  const file = join(dir, `${sop}.dcm`)
  const out = createWriteStream(file)
  const hash = createHash('sha256')
  const put = async (b: Buffer) => {
    hash.update(b)
    if (!out.write(b)) await once(out, 'drain')
  }
  await put(header)
  await put(pixelHeader)
  // Random bytes per object (so a wrong offset or a swapped chunk changes the hash), stamped per frame.
  const noise = randomBytes(FRAME_BYTES)
  for (let f = 0; f < frames; f++) {
    const frame = Buffer.from(noise)
    frame.writeUInt32LE(f, (f * 4096) % (FRAME_BYTES - 4))
    await put(frame)
  }
  out.end()
  await once(out, 'close')
  return { file, size: (await stat(file)).size, sha256: hash.digest('hex'), study, sop }
}

/** A TCP proxy that closes each connection (both sides) once it has carried a random number of bytes upstream. */
class CuttingProxy {
  readonly server: Server
  cuts = 0
  /** The next connection's budget, once (so every upload meets at least one cut); then `budget()`. */
  firstBudget: number | null = null
  private readonly sockets = new Set<Socket>()
  constructor(private readonly target: number, private readonly budget: () => number) {
    this.server = createServer((client) => {
      const upstream = createConnection({ host: '127.0.0.1', port: this.target })
      this.sockets.add(client).add(upstream)
      let left = this.firstBudget ?? this.budget()
      this.firstBudget = null
      const cut = () => {
        this.cuts++
        client.destroy()
        upstream.destroy()
      }
      client.on('data', (d: Buffer) => {
        if (d.length >= left) {
          // Deliver a prefix so the hub sees a body broken at an arbitrary byte, then cut.
          if (left > 0) upstream.write(d.subarray(0, left))
          left = 0
          setImmediate(cut)
          return
        }
        left -= d.length
        if (!upstream.write(d)) client.pause()
      })
      upstream.on('drain', () => client.resume())
      upstream.on('data', (d: Buffer) => { if (!client.write(d)) upstream.pause() })
      client.on('drain', () => upstream.resume())
      for (const s of [client, upstream]) {
        s.on('error', () => {})
        s.on('close', () => { this.sockets.delete(s); client.destroy(); upstream.destroy() })
      }
    })
  }
  async listen(): Promise<number> {
    this.server.listen(0, '127.0.0.1')
    await once(this.server, 'listening')
    return (this.server.address() as { port: number }).port
  }
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise((ok) => this.server.close(ok))
  }
}

async function sha256Of(stream: NodeJS.ReadableStream): Promise<string> {
  const h = createHash('sha256')
  for await (const c of stream) h.update(c as Buffer)
  return h.digest('hex')
}

describe('uploads through a proxy that cuts connections', () => {
  let hub: TestHub
  let proxy: CuttingProxy
  let work: string
  let chunkBytes = 0
  /** Connections carry up to this many chunks' worth of bytes before the cut. */
  let reach = 2.5
  let tus: TusClient

  before(async () => {
    hub = await startTestHub()
    work = await mkdtemp(join(tmpdir(), 'kura-cut-'))
    assert.equal((await hub.fetch(`${hub.url}/api/collections`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'cut' }) })).status, 201)
    // Cuts anywhere up to `reach` chunks in: some connections carry a whole PATCH, many break inside one.
    proxy = new CuttingProxy(Number(new URL(hub.url).port), () => Math.floor(Math.random() * reach * chunkBytes))
    const port = await proxy.listen()
    tus = new TusClient({ hub: `http://127.0.0.1:${port}`, token: () => hub.adminToken, chunkTries: 60, timeoutMs: 120_000 })
  })
  after(async () => {
    await proxy?.close()
    await hub?.close()
    if (work) await rm(work, { recursive: true, force: true })
  })

  async function uploadAndCheck(src: Source, chunk: number, sendAgain: boolean, fromMemory = false): Promise<void> {
    chunkBytes = chunk
    const cutsBefore = proxy.cuts
    const resumesBefore = tus.resumes
    const meta = { kind: 'dicom', collection: 'cut', sha256: src.sha256, study: src.study, count: '1' }
    // The first connection (POST, then PATCHes on the same kept-alive socket) breaks before half the
    // object; past the first chunk when there is room, so the client must resume from a non-zero offset.
    const past = chunk + 8192
    const resumable = src.size / 2 > past
    proxy.firstBudget = resumable ? past + Math.floor(Math.random() * (src.size / 2 - past)) : 1 + Math.floor((Math.random() * src.size) / 2)
    // fromMemory: the payload held in a buffer, as the gateway sends a bundle that fits one chunk.
    const data = fromMemory ? await readFile(src.file) : undefined
    const url = await tus.upload({ file: src.file, data, length: src.size, chunkBytes: chunk, metadata: meta })
    const result = await tus.result(url)
    assert.equal(result.state, 'complete', JSON.stringify(result))
    assert.equal(result.objects.length, 1)
    assert.ok(['stored', 'duplicate'].includes(result.objects[0]!.outcome), JSON.stringify(result))
    assert.equal(result.objects[0]!.sha256, src.sha256)
    assert.ok(proxy.cuts > cutsBefore, 'the proxy cut at least one connection')
    if (resumable) assert.ok(tus.resumes > resumesBefore, 'the client resumed from a non-zero offset at least once')

    // Stored once, and the stored bytes are the source's.
    const rows = await listInstances(hub.archive.catalog.db, { studyInstanceUid: src.study })
    assert.equal(rows.length, 1)
    assert.equal(rows[0]!.sopInstanceUid, src.sop)
    assert.equal(rows[0]!.sha256, src.sha256)
    assert.equal(await sha256Of(await hub.archive.objects.get(objectKeyFor(src.sha256))), src.sha256)

    // A gateway unsure whether it finished uploads again: a duplicate, still one instance.
    if (!sendAgain) return
    const again = await tus.result(await tus.upload({ file: src.file, length: src.size, chunkBytes: chunk, metadata: meta }))
    assert.equal(again.state, 'complete')
    assert.equal(again.objects[0]!.outcome, 'duplicate')
    assert.equal((await listInstances(hub.archive.catalog.db, { studyInstanceUid: src.study })).length, 1)
  }

  it('small objects, each sent in many small chunks, resume and verify', { timeout: 120_000 }, async () => {
    for (const mb of [1, 4]) {
      const src = await writeObject(work, mb)
      try {
        await uploadAndCheck(src, 512 * 1024, true, mb === 4)
      } finally {
        await rm(src.file, { force: true })
      }
    }
  })

  it(`a ${process.env.KURA_TEST_CUT_MB ?? 1024} MiB object resumes through the cuts and verifies`, { timeout: 150_000 }, async () => {
    const started = Date.now()
    const src = await writeObject(work, Number(process.env.KURA_TEST_CUT_MB ?? 1024))
    // Fewer cuts per byte than for the small ones: each costs up to a 64 MiB chunk, and this must stay under 2 minutes.
    reach = 4
    const pipelinedBefore = tus.pipelined
    try {
      await uploadAndCheck(src, 64 * MiB, false)
      // Chunks went out back to back (each before the answer to the one before), and the hub took them.
      assert.ok(tus.pipelined > pipelinedBefore, 'the hub accepted pipelined PATCHes')
      assert.ok(tus.pipelining, 'pipelining stayed on')
    } finally {
      await rm(src.file, { force: true })
    }
    console.log(`# ${(src.size / MiB).toFixed(0)} MiB through ${proxy.cuts} cuts, ${tus.resumes} resumes, in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  })
})
