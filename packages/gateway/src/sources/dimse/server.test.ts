/**
 * DICOM network source against real peers: DCMTK echoscu/storescu send, we compare what landed in
 * the spool with the sent files byte for byte (data set part) and check every entry handed to onStored.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { after, before, describe, test } from 'node:test'
import { writeDicom } from '@kura/dicom'
import { writeCorpus } from '@kura/dicom/synth'
import { Journal, type SpoolEntry } from '../../spool/index.ts'
import { PduType } from './pdu.ts'
import { startDimseServer, type DimseServer, type DimseServerOptions } from './server.ts'
import { associateRq, cStoreRq, datasetOf, DcmtkReceiver, metaOf, pdata, RawPeer, requireDcmtk, runTool, waitFor } from './testkit.ts'

const PYDICOM = '/usr/lib/python3/dist-packages/pydicom/data/test_files'
const CT = '1.2.840.10008.5.1.4.1.1.2'
const EXPLICIT_LE = '1.2.840.10008.1.2.1'

let root: string
before(async () => { root = await mkdtemp(join(tmpdir(), 'kura-dimse-')) })
after(async () => { await rm(root, { recursive: true, force: true }) })

async function serve(extra: Partial<DimseServerOptions> = {}): Promise<{ server: DimseServer; stored: SpoolEntry[]; spoolDir: string }> {
  const spoolDir = await mkdtemp(join(root, 'spool-'))
  const stored: SpoolEntry[] = []
  const server = await startDimseServer({ aeTitle: 'KURA', port: 0, host: '127.0.0.1', spoolDir, minFreeBytes: 0, onStored: (e) => stored.push(e), ...extra })
  return { server, stored, spoolDir }
}

/** The files in `incoming/` (large objects, and their `.part` while they stream). */
async function incoming(spoolDir: string): Promise<string[]> {
  return (await readdir(join(spoolDir, 'incoming'))).sort()
}

/** Every object the spool holds, by id: small ones from its journal (read as a restarted gateway would), large ones from `incoming/`. */
async function spooled(spoolDir: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>()
  const journal = Journal.open(join(spoolDir, 'journal'))
  try {
    for (const m of journal.records()) {
      assert.ok(journal.verify(m.id), `journal record ${m.id} matches its SHA-256`)
      out.set(m.id, journal.read(m.id))
    }
  } finally {
    journal.close()
  }
  for (const n of await incoming(spoolDir)) if (n.endsWith('.dcm')) out.set(n.slice(0, -4), await readFile(join(spoolDir, 'incoming', n)))
  return out
}

/**
 * Checks one stored object against the file that was sent: data set identical (to `wire` when given:
 * what DCMTK actually transmitted), meta and the onStored entry right; no sidecar is written.
 */
async function assertArrived(server: DimseServer, entry: SpoolEntry, sent: Uint8Array, expect: { callingAE: string; ts?: string; wire?: Uint8Array }): Promise<void> {
  const got = server.spool.read(entry)
  assert.ok(Buffer.from(datasetOf(got)).equals(Buffer.from(datasetOf(expect.wire ?? sent))), `data set of ${entry.sopInstanceUid} differs from what was sent`)
  const srcMeta = metaOf(sent)
  const meta = metaOf(got)
  assert.equal(meta.get(0x0002), srcMeta.get(0x0002), 'MediaStorageSOPClassUID')
  assert.equal(meta.get(0x0003), srcMeta.get(0x0003), 'MediaStorageSOPInstanceUID')
  assert.equal(meta.get(0x0010), expect.ts ?? srcMeta.get(0x0010), 'TransferSyntaxUID')
  assert.equal(meta.get(0x0016), expect.callingAE, 'SourceApplicationEntityTitle')
  assert.equal(meta.get(0x0012), '2.25.100346920813337053928246817758229797952', 'Kura ImplementationClassUID')
  assert.ok(!existsSync(join(server.spool.incoming, `${entry.id}.json`)), 'the DICOM receiver writes no sidecar')
  const sidecar = entry
  assert.equal(sidecar.callingAE, expect.callingAE)
  assert.equal(sidecar.calledAE, 'KURA')
  assert.equal(sidecar.peer.address, '127.0.0.1')
  assert.equal(sidecar.sopClassUid, srcMeta.get(0x0002))
  assert.equal(sidecar.sopInstanceUid, srcMeta.get(0x0003))
  assert.equal(sidecar.transferSyntaxUid, meta.get(0x0010))
  assert.equal(sidecar.bytes, got.length)
  assert.equal(sidecar.sha256, createHash('sha256').update(got).digest('hex'))
  assert.ok(!Number.isNaN(Date.parse(sidecar.receivedAt)))
}

describe('DICOM C-ECHO / C-STORE SCP with DCMTK as the peer', () => {
  test('echoscu succeeds; a wrong called AE title is rejected', async (t) => {
    if (!requireDcmtk(t)) return
    const { server } = await serve()
    try {
      const ok = await runTool('echoscu', ['-aec', 'KURA', '127.0.0.1', String(server.port)])
      assert.equal(ok.code, 0, ok.output)
      const bad = await runTool('echoscu', ['-aec', 'NOTKURA', '127.0.0.1', String(server.port)])
      assert.notEqual(bad.code, 0)
      assert.match(bad.output, /Called AE Title Not Recognized/i)
    } finally {
      await server.close()
    }
  })

  test("pydicom's test files in their own transfer syntaxes arrive byte-identical with correct entries", async (t) => {
    if (!requireDcmtk(t)) return
    if (!existsSync(PYDICOM)) {
      const msg = `pydicom's test files are missing (${PYDICOM}; apt-get install python3-pydicom)`
      if (process.env.CI) throw new Error(`CI: ${msg}`)
      console.warn(`\n*** SKIPPED: ${msg} ***\n`)
      return t.skip(msg)
    }
    // storescu proposes the file's own syntax only when told to; each flag matches one file.
    const cases: Array<[string, string[]]> = [
      ['CT_small.dcm', []],
      ['MR_small.dcm', []],
      ['SC_rgb_jpeg_dcmtk.dcm', ['-xy']],
      ['MR_small_RLE.dcm', ['-xr']],
      ['MR_small_jpeg_ls_lossless.dcm', ['-xt']],
      ['MR_small_jp2klossless.dcm', ['-xv']],
      ['MR_small_bigendian.dcm', ['-xb']],
      ['MR_small_implicit.dcm', ['-xi']],
    ]
    // storescu re-encodes some files as it sends them (CT_small and MR_small lose their retired
    // group lengths (gggg,0000); the three MR_small derivatives are rewritten too); storescp +B
    // shows what was on the wire, and that is what must land in the spool.
    const rewrittenByDcmtk = new Set(['CT_small.dcm', 'MR_small.dcm', 'MR_small_RLE.dcm', 'MR_small_jp2klossless.dcm', 'MR_small_jpeg_ls_lossless.dcm'])
    const { server, stored } = await serve()
    const oracle = await DcmtkReceiver.start(join(root, 'storescp'))
    const rewritten = new Set<string>()
    try {
      for (const [name, flags] of cases) {
        const r = await runTool('storescu', ['-aec', 'KURA', '-aet', 'MODALITY1', ...flags, '127.0.0.1', String(server.port), join(PYDICOM, name)])
        assert.equal(r.code, 0, `${name}: ${r.output}`)
        const entry = stored.at(-1)!
        const sent = await readFile(join(PYDICOM, name))
        assert.equal(entry.sopInstanceUid, metaOf(sent).get(0x0003), `${name} was stored`)
        const wire = await oracle.receive(join(PYDICOM, name), flags)
        await assertArrived(server, entry, sent, { callingAE: 'MODALITY1', wire })
        if (!Buffer.from(datasetOf(wire)).equals(Buffer.from(datasetOf(sent)))) rewritten.add(name)
      }
      assert.deepEqual(rewritten, rewrittenByDcmtk, 'storescu sends the data set of the other files unchanged, so those arrive identical to the file')
      assert.equal(stored.length, cases.length)
    } finally {
      oracle.stop()
      await server.close()
    }
  })

  test('200 synthetic instances over one association, and again as two parallel associations', async (t) => {
    if (!requireDcmtk(t)) return
    const corpus = join(root, 'corpus')
    const made = await writeCorpus(corpus, { studies: 4, seriesPerStudy: 2, instancesPerSeries: 25, modality: 'mixed', esPixels: 'mixed', sizes: { CT: { rows: 64, columns: 64 }, MR: { rows: 64, columns: 64 }, ES: { rows: 48, columns: 64 } } })
    assert.equal(made.files, 200)
    const files = new Map<string, Uint8Array>()
    const paths: string[] = []
    const walk = async (d: string): Promise<void> => {
      for (const e of await readdir(d, { withFileTypes: true })) {
        const p = join(d, e.name)
        if (e.isDirectory()) await walk(p)
        else { const b = await readFile(p); files.set(metaOf(b).get(0x0003)!, b); paths.push(p) }
      }
    }
    await walk(corpus)
    assert.equal(files.size, 200)

    const one = await serve()
    try {
      // -xy: the endoscopy studies are baseline JPEG and travel as such.
      const r = await runTool('storescu', ['-aec', 'KURA', '-aet', 'PACS', '-xy', '+sd', '+r', '127.0.0.1', String(one.server.port), corpus])
      assert.equal(r.code, 0, r.output)
      assert.equal(one.stored.length, 200)
      for (const e of one.stored) await assertArrived(one.server, e, files.get(e.sopInstanceUid)!, { callingAE: 'PACS' })
      assert.deepEqual([...(await spooled(one.spoolDir)).keys()].sort(), one.stored.map((e) => e.id).sort(), 'each object once in the journal')
      assert.deepEqual(await incoming(one.spoolDir), [], 'small objects take no file of their own')
    } finally {
      await one.server.close()
    }

    const two = await serve()
    try {
      const half = paths.length / 2
      const [a, b] = await Promise.all([
        runTool('storescu', ['-aec', 'KURA', '-aet', 'PACS_A', '-xy', '127.0.0.1', String(two.server.port), ...paths.slice(0, half)]),
        runTool('storescu', ['-aec', 'KURA', '-aet', 'PACS_B', '-xy', '127.0.0.1', String(two.server.port), ...paths.slice(half)]),
      ])
      assert.equal(a.code, 0, a.output)
      assert.equal(b.code, 0, b.output)
      assert.equal(two.stored.length, 200)
      assert.equal(new Set(two.stored.map((e) => e.sopInstanceUid)).size, 200)
      for (const e of two.stored) await assertArrived(two.server, e, files.get(e.sopInstanceUid)!, { callingAE: e.callingAE })
      assert.deepEqual(new Set(two.stored.map((e) => e.callingAE)), new Set(['PACS_A', 'PACS_B']))
    } finally {
      await two.server.close()
    }
  })

  test('a calling AE title outside the allow list is rejected; one inside is accepted', async (t) => {
    if (!requireDcmtk(t)) return
    const { server, stored, spoolDir } = await serve({ allowedCallingAEs: ['PACS1'] })
    try {
      const ct = join(PYDICOM, 'CT_small.dcm')
      const bad = await runTool('storescu', ['-aec', 'KURA', '-aet', 'INTRUDER', '127.0.0.1', String(server.port), ct])
      assert.notEqual(bad.code, 0, 'storescu must fail')
      assert.match(bad.output, /Calling AE Title Not Recognized/i)
      const badEcho = await runTool('echoscu', ['-aec', 'KURA', '-aet', 'INTRUDER', '127.0.0.1', String(server.port)])
      assert.notEqual(badEcho.code, 0)
      assert.equal(stored.length, 0)
      assert.deepEqual(await incoming(spoolDir), [])
      const ok = await runTool('storescu', ['-aec', 'KURA', '-aet', 'PACS1', '127.0.0.1', String(server.port), ct])
      assert.equal(ok.code, 0, ok.output)
      assert.equal(stored.length, 1)
    } finally {
      await server.close()
    }
  })

  test('a storescu killed mid-transfer leaves no .dcm and no .part', async (t) => {
    if (!requireDcmtk(t)) return
    const big = join(root, 'big.dcm')
    await writeFile(big, largeCt(96))
    const { server, stored, spoolDir } = await serve()
    try {
      let pid = 0
      const run = runTool('storescu', ['-aec', 'KURA', '127.0.0.1', String(server.port), big], { onSpawn: (p) => { pid = p } })
      // Freeze the sender as soon as the object is streaming, then kill it: a cut at an unknown byte.
      await waitFor('a .part file', async () => (await incoming(spoolDir)).some((n) => n.endsWith('.part')), 20_000, 1)
      process.kill(pid, 'SIGSTOP')
      const part = (await incoming(spoolDir)).find((n) => n.endsWith('.part'))!
      const partial = (await stat(join(spoolDir, 'incoming', part))).size
      assert.ok(partial < 96 * 1024 * 1024, 'the transfer was cut before the end')
      process.kill(pid, 'SIGKILL')
      const r = await run
      assert.equal(r.signal, 'SIGKILL')
      await waitFor('the partial object to be discarded', async () => (await incoming(spoolDir)).length === 0)
      assert.equal(stored.length, 0)
    } finally {
      await server.close()
    }
  })

  test('a gateway killed (-9) mid-transfer leaves only a .part, which the next start removes', async (t) => {
    if (!requireDcmtk(t)) return
    const big = join(root, 'big-crash.dcm')
    await writeFile(big, largeCt(96))
    const spoolDir = await mkdtemp(join(root, 'crash-'))
    const server = await startChildServer(spoolDir)
    let pid = 0
    try {
      const run = runTool('storescu', ['-aec', 'KURA', '127.0.0.1', String(server.port), big], { onSpawn: (p) => { pid = p } })
      await waitFor('a .part file', async () => (await incoming(spoolDir)).some((n) => n.endsWith('.part')), 20_000, 1)
      process.kill(pid, 'SIGSTOP')
      server.proc.kill('SIGKILL')
      await new Promise((r) => server.proc.once('exit', r))
      const left = await incoming(spoolDir)
      assert.equal(left.length, 1)
      assert.match(left[0]!, /\.part$/)
      process.kill(pid, 'SIGKILL')
      await run
    } finally {
      server.proc.kill('SIGKILL')
    }
    const restarted = await startDimseServer({ aeTitle: 'KURA', port: 0, host: '127.0.0.1', spoolDir, minFreeBytes: 0 })
    try {
      assert.deepEqual(await incoming(spoolDir), [])
    } finally {
      await restarted.close()
    }
  })

  test('a gateway killed (-9) while small objects stream in keeps every acknowledged object whole, and no half one', async (t) => {
    if (!requireDcmtk(t)) return
    const corpus = join(root, 'crash-corpus')
    await writeCorpus(corpus, { studies: 1, seriesPerStudy: 1, instancesPerSeries: 300, modality: 'CT', sizes: { CT: { rows: 64, columns: 64 } }, seed: 11 })
    const sent = new Map<string, Uint8Array>()
    const walk = async (d: string): Promise<void> => {
      for (const e of await readdir(d, { withFileTypes: true })) {
        const p = join(d, e.name)
        if (e.isDirectory()) await walk(p)
        else { const b = await readFile(p); sent.set(metaOf(b).get(0x0003)!, b) }
      }
    }
    await walk(corpus)
    const spoolDir = await mkdtemp(join(root, 'crash-small-'))
    const server = await startChildServer(spoolDir)
    const acked: string[] = []
    let current = ''
    const sender = spawn('storescu', ['-v', '-aec', 'KURA', '+sd', '+r', '127.0.0.1', String(server.port), corpus], { env: { ...process.env, TCP_NODELAY: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
    const killAt = 60 + Math.floor(Math.random() * 120)
    let lines = ''
    const onOutput = (d: Buffer): void => {
      lines += d.toString()
      let nl: number
      while ((nl = lines.indexOf('\n')) >= 0) {
        const line = lines.slice(0, nl)
        lines = lines.slice(nl + 1)
        const file = /Sending file: (.*)$/.exec(line)
        if (file) current = file[1]!.trim()
        // storescu sends one object at a time: a success response acknowledges the file it last sent.
        if (/Received Store Response \(Success\)/.test(line)) {
          acked.push(current)
          if (acked.length === killAt) server.proc.kill('SIGKILL')
        }
      }
    }
    sender.stdout.on('data', onOutput)
    sender.stderr.on('data', onOutput)
    await new Promise((r) => sender.once('close', r))
    server.proc.kill('SIGKILL')
    assert.ok(acked.length >= killAt && acked.length < 300, `the gateway died mid-run (${acked.length} acknowledged)`)
    const restarted = await startDimseServer({ aeTitle: 'KURA', port: 0, host: '127.0.0.1', spoolDir, minFreeBytes: 0 })
    try {
      const names = await incoming(spoolDir)
      assert.ok(names.every((n) => n.endsWith('.dcm')), `only committed objects remain: ${names.filter((n) => !n.endsWith('.dcm')).join(', ')}`)
      const landed = new Map<string, Uint8Array>()
      // A record torn by the kill (never acknowledged) is not listed; every other one must be whole.
      for (const [id, got] of await spooled(spoolDir)) {
        const uid = metaOf(got).get(0x0003)!
        assert.ok(Buffer.from(datasetOf(got)).equals(Buffer.from(datasetOf(sent.get(uid)!))), `${id} is whole`)
        landed.set(uid, got)
      }
      for (const path of acked) {
        const uid = metaOf(await readFile(path)).get(0x0003)!
        assert.ok(landed.has(uid), `acknowledged ${uid} is in the spool`)
      }
    } finally {
      await restarted.close()
    }
  })

  test('status A700 (out of resources) when the spool is below its free-space floor; nothing is kept', async (t) => {
    if (!requireDcmtk(t)) return
    const { server, stored, spoolDir } = await serve({ minFreeBytes: Number.MAX_SAFE_INTEGER })
    try {
      const r = await runTool('storescu', ['-v', '-aec', 'KURA', '127.0.0.1', String(server.port), join(PYDICOM, 'CT_small.dcm')])
      assert.notEqual(r.code, 0)
      assert.match(r.output, /Received Store Response \(Refused: OutOfResources\)/, r.output)
      assert.equal(stored.length, 0)
      assert.deepEqual(await incoming(spoolDir), [])
    } finally {
      await server.close()
    }
  })
})

/** The DICOM source in a child process, so the test can kill -9 it like a power cut. */
async function startChildServer(spoolDir: string): Promise<{ port: number; proc: ChildProcess }> {
  const entry = pathToFileURL(join(import.meta.dirname, 'server.ts')).href
  const code = `import { startDimseServer } from ${JSON.stringify(entry)}
    const s = await startDimseServer({ aeTitle: 'KURA', port: 0, host: '127.0.0.1', spoolDir: ${JSON.stringify(spoolDir)}, minFreeBytes: 0 })
    process.stdout.write('PORT ' + s.port + '\\n')`
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /PORT (\d+)/.exec(out)
      if (m) resolve(Number(m[1]))
    })
    proc.once('exit', (c) => reject(new Error(`DICOM server child exited (${c})`)))
  })
  return { port, proc }
}

/** A CT with `mb` MiB of native pixel data (Explicit VR LE), for transfers that take a while. */
function largeCt(mb: number): Uint8Array {
  const side = Math.floor(Math.sqrt((mb * 1024 * 1024) / 2))
  const pixels = new Uint8Array(side * side * 2)
  for (let i = 0; i < pixels.length; i += 4096) pixels[i] = i & 0xff
  return writeDicom({
    dataset: [
      { tag: 0x00080016, vr: 'UI', value: CT },
      { tag: 0x00080018, vr: 'UI', value: `2.25.${Date.now()}${mb}` },
      { tag: 0x00080060, vr: 'CS', value: 'CT' },
      { tag: 0x00100010, vr: 'PN', value: 'Test^Large' },
      { tag: 0x00280002, vr: 'US', value: 1 },
      { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
      { tag: 0x00280010, vr: 'US', value: side },
      { tag: 0x00280011, vr: 'US', value: side },
      { tag: 0x00280100, vr: 'US', value: 16 },
      { tag: 0x00280101, vr: 'US', value: 16 },
      { tag: 0x00280102, vr: 'US', value: 15 },
      { tag: 0x00280103, vr: 'US', value: 0 },
      { tag: 0x7fe00010, vr: 'OW', value: pixels },
    ],
  }, { transferSyntaxUID: EXPLICIT_LE })
}

describe('DICOM upper layer, raw peer', () => {
  test('a connection cut inside a data set leaves nothing; the association limit rejects as transient', async () => {
    const { server, stored, spoolDir } = await serve({ maxAssociations: 1 })
    try {
      const p = await RawPeer.connect(server.port)
      p.send(associateRq({ calledAE: 'KURA', callingAE: 'RAW', contexts: [{ id: 1, abstractSyntax: CT, transferSyntaxes: ['1.2.3.unknown', EXPLICIT_LE] }] }))
      const ac = await p.pdu()
      assert.equal(ac?.type, PduType.AssociateAc)
      // Context 1 accepted (result 0) with the first syntax we support, not the unknown one.
      assert.ok(ac!.body.includes(Buffer.from(EXPLICIT_LE)))

      // A second association over the limit of 1: rejected-transient, local-limit-exceeded (PS3.8 Table 9-21).
      const q = await RawPeer.connect(server.port)
      q.send(associateRq({ calledAE: 'KURA', callingAE: 'RAW2', contexts: [{ id: 1, abstractSyntax: CT, transferSyntaxes: [EXPLICIT_LE] }] }))
      const rj = await q.pdu()
      assert.equal(rj?.type, PduType.AssociateRj)
      assert.deepEqual([...rj!.body.subarray(1, 4)], [2, 3, 2])
      q.destroy()

      p.send(pdata(1, true, true, cStoreRq(CT, '2.25.1')))
      // Past the spool's in-memory size (1 MiB), so the object is streaming to a .part when the cut comes.
      for (let i = 0; i < 6; i++) p.send(pdata(1, false, false, Buffer.alloc(240 * 1024, 7)))
      await waitFor('a .part file', async () => (await incoming(spoolDir)).some((n) => n.endsWith('.part')))
      p.destroy()
      await waitFor('the partial object to be discarded', async () => (await incoming(spoolDir)).length === 0)
      assert.equal(stored.length, 0)
    } finally {
      await server.close()
    }
  })

  test('an unknown PDU type is answered with A-ABORT', async () => {
    const { server } = await serve()
    try {
      const p = await RawPeer.connect(server.port)
      p.send(Buffer.from([0x09, 0, 0, 0, 0, 0]))
      const abort = await p.pdu()
      assert.equal(abort?.type, PduType.Abort)
      p.destroy()
    } finally {
      await server.close()
    }
  })

  test('the ARTIM timer closes a connection that never sends an A-ASSOCIATE-RQ', async () => {
    const { server } = await serve({ artimTimeoutMs: 200 })
    try {
      const p = await RawPeer.connect(server.port)
      const t0 = Date.now()
      await waitFor('the connection to close', () => p.closed, 3000)
      assert.ok(Date.now() - t0 >= 150)
    } finally {
      await server.close()
    }
  })
})
