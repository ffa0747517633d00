/**
 * End to end through the site gateway: synthetic studies dropped in a watched folder are de-identified on site,
 * uploaded with the tus client (small objects bundled per series, a large one alone in chunks) to a real hub,
 * found there by QIDO-RS de-identified, and the hub's study manifest matches what the gateway sent. Then: the same
 * files again are duplicates (nothing stored twice), and a bad token stops uploads until the token file changes.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeSecretFile } from '@kura/deid'
import { synthStudies } from '@kura/dicom/synth'
import { startTestHub, type TestHub } from './support/hub.ts'
import { cuttingProxy, until } from './support/network.ts'
import { parseGatewayConfig, type GatewayConfig } from '../packages/gateway/src/config/index.ts'
import { startGateway, type Gateway } from '../packages/gateway/src/gateway.ts'

const small = { sizes: { CT: { rows: 16, columns: 16 }, MR: { rows: 16, columns: 16 }, ES: { rows: 16, columns: 16 } } }

describe('gateway → hub', () => {
  let hub: TestHub
  let root: string
  let config: GatewayConfig
  let gw: Gateway | null = null
  const drop = () => join(root, 'drop')

  before(async () => {
    hub = await startTestHub()
    root = mkdtempSync(join(tmpdir(), 'kura-gw-e2e-'))
    mkdirSync(drop())
    writeFileSync(join(root, 'token'), hub.adminToken + '\n', { mode: 0o600 })
    writeSecretFile(join(root, 'secret.key'))
    config = parseGatewayConfig({
      site: 'test-site',
      hub: { url: hub.url, tokenFile: 'token' },
      collection: 'gw-e2e',
      deid: { policy: 'basic', secretFile: 'secret.key' },
      spool: 'spool',
      sources: { folders: [{ path: 'drop', settleSeconds: 0 }] },
      // Small limits so a series needs more than one bundle and the large object several chunks.
      limits: { concurrency: 2, bundleBytes: '8KB', largeObjectBytes: '100KB', chunkBytes: '64KiB', minFreeDiskBytes: 0 },
      status: { port: 0 },
    }, join(root, 'gateway.yaml'))
  })

  after(async () => {
    await gw?.stop()
    await hub?.close()
    rmSync(root, { recursive: true, force: true })
  })

  const rows = () => gw!.outbox.db.prepare('SELECT * FROM objects').all() as Array<{ id: string; state: string; outcome: string | null; study_uid: string; sop_uid: string; output_sha256: string; last_error: string | null }>

  it('delivers de-identified studies that the hub lists, complete and byte-identical by hash', async () => {
    const studies = [...synthStudies({ studies: 2, seriesPerStudy: 2, instancesPerSeries: 3, seed: 11, modality: 'CT', charset: 'mixed', ...small })]
    const large = [...synthStudies({ studies: 1, seriesPerStudy: 1, instancesPerSeries: 1, seed: 12, modality: 'CT', charset: 'ir192', sizes: { CT: { rows: 256, columns: 256 } } })]
    const all = [...studies, ...large]
    assert.ok(large[0]!.bytes.length > 100_000)
    all.forEach((inst, i) => writeFileSync(join(drop(), `${i}.dcm`), inst.bytes))
    gw = await startGateway(config, { pollMs: 100, backoffMs: 200 })
    await until('every object confirmed by the hub', () => rows().length === all.length && rows().every((r) => r.state === 'confirmed'))
    assert.ok(rows().every((r) => r.outcome === 'stored'), JSON.stringify(rows().map((r) => r.outcome)))
    assert.ok(gw.uploader.state.uploadsDone < all.length, `small objects travel bundled (${gw.uploader.state.uploadsDone} uploads for ${all.length} objects)`)
    assert.deepEqual(readdirSync(join(root, 'spool', 'clean')), ['journal'], 'confirmed objects leave the spool; their rows stay')
    assert.deepEqual(gw.outbox.cleanJournal.records(), [], 'nothing left in the clean journal either')

    const res = await hub.fetch(`${hub.dicomweb}/studies?includefield=00100010,00100020`, { headers: { accept: 'application/dicom+json' } })
    assert.equal(res.status, 200)
    const found = (await res.json()) as Array<Record<string, { Value?: unknown[] }>>
    const uids = new Set(rows().map((r) => r.study_uid))
    assert.equal(uids.size, 3)
    const listed = found.filter((s) => uids.has(String(s['0020000D']?.Value?.[0])))
    assert.equal(listed.length, 3, 'every de-identified study is on the hub')
    const originals = new Set(all.map((i) => i.studyInstanceUid))
    for (const s of listed) {
      assert.ok(!originals.has(String(s['0020000D']!.Value![0])), 'the original Study Instance UID never left')
      const pid = String(s['00100020']?.Value?.[0] ?? '')
      assert.ok(!all.some((i) => i.patientId === pid), 'the original Patient ID never left')
      const name = JSON.stringify(s['00100010']?.Value?.[0] ?? null)
      assert.ok(!all.some((i) => name === JSON.stringify(i.patientName)), 'the patient name never left')
    }
    for (const uid of uids) {
      const m = await hub.fetch(`${hub.url}/uploads/studies/${uid}`)
      assert.equal(m.status, 200)
      const manifest = (await m.json()) as { instances: Array<{ sopInstanceUid: string; sha256: string }> }
      const sent = rows().filter((r) => r.study_uid === uid).map((r) => `${r.sop_uid}:${r.output_sha256}`).sort()
      assert.deepEqual(manifest.instances.map((i) => `${i.sopInstanceUid}:${i.sha256}`).sort(), sent)
      assert.equal((await gw.uploader.studyComplete(uid)).complete, true)
    }

    // The status endpoint serves the same counts.
    const st = await (await fetch(`http://127.0.0.1:${gw.statusServer!.port}/status`)).json() as { totals: Record<string, { count: number }>; quarantine: { count: number } }
    assert.equal(st.totals.confirmed!.count, all.length)
    assert.equal(st.quarantine.count, 0)
    const metrics = await (await fetch(`http://127.0.0.1:${gw.statusServer!.port}/metrics`)).text()
    assert.match(metrics, new RegExp(`kura_gateway_objects\\{source="folder:[^"]+",state="confirmed"\\} ${all.length}`))
  })

  it('sends the same objects again after a restart as duplicates: nothing is stored twice', async () => {
    await gw!.stop()
    gw = null
    const again = join(root, 'drop', 'again')
    mkdirSync(again)
    const studies = [...synthStudies({ studies: 2, seriesPerStudy: 2, instancesPerSeries: 3, seed: 11, modality: 'CT', charset: 'mixed', ...small })]
    studies.forEach((inst, i) => writeFileSync(join(again, `${i}.dcm`), inst.bytes))
    gw = await startGateway(config, { pollMs: 100, backoffMs: 200 })
    const before = rows().length
    await until('the copies confirmed', () => rows().length === before + studies.length && rows().every((r) => r.state === 'confirmed'))
    const copies = rows().slice(-studies.length)
    assert.ok(rows().filter((r) => r.outcome === 'duplicate').length === studies.length, JSON.stringify(copies.map((r) => r.outcome)))
  })

  it('stops uploading on a refused token, says so in status, and resumes when the token file changes', async () => {
    writeFileSync(join(root, 'token'), 'kura_not-a-valid-token\n')
    const inst = [...synthStudies({ studies: 1, seriesPerStudy: 1, instancesPerSeries: 2, seed: 13, modality: 'CT', charset: 'ir192', ...small })]
    inst.forEach((x, i) => writeFileSync(join(drop(), `auth-${i}.dcm`), x.bytes))
    await until('the auth problem to show', () => gw!.status().running!.uploader.authProblem !== null)
    assert.match(gw!.status().running!.uploader.authProblem!, /401|403/)
    const waiting = rows().filter((r) => r.state !== 'confirmed')
    assert.equal(waiting.length, 2)
    assert.ok(waiting.every((r) => r.state === 'queued'), 'kept in the queue, not burning attempts')
    writeFileSync(join(root, 'token'), hub.adminToken + '\n')
    await until('uploads to resume', () => rows().every((r) => r.state === 'confirmed'), 30_000)
    assert.equal(gw!.status().running!.uploader.authProblem, null)
  })

  it('resumes every upload through a link that drops connections mid-upload, and the hub verifies it', async () => {
    await gw!.stop()
    gw = null
    const hubPort = Number(new URL(hub.url).port)
    const proxy = await cuttingProxy(hubPort, 300_000, 8)
    const cfg = parseGatewayConfig({
      site: 'test-site',
      hub: { url: `http://127.0.0.1:${proxy.port}`, tokenFile: 'token' },
      collection: 'gw-e2e',
      deid: { policy: 'basic', secretFile: 'secret.key' },
      spool: 'spool-cut',
      sources: { folders: [{ path: 'drop-cut', settleSeconds: 0 }] },
      limits: { concurrency: 2, bundleBytes: '400KB', largeObjectBytes: '1MB', chunkBytes: '256KiB', minFreeDiskBytes: 0 },
      status: { port: 0 },
    }, join(root, 'gateway.yaml'))
    mkdirSync(join(root, 'drop-cut'))
    // One 2 MB object alone in chunks, and a series of ~130 KB objects in bundles.
    const big = [...synthStudies({ studies: 1, seriesPerStudy: 1, instancesPerSeries: 1, seed: 21, modality: 'CT', charset: 'ir192', sizes: { CT: { rows: 1024, columns: 1024 } } })]
    const series = [...synthStudies({ studies: 1, seriesPerStudy: 1, instancesPerSeries: 6, seed: 22, modality: 'CT', charset: 'ir87', sizes: { CT: { rows: 256, columns: 256 } } })]
    const all = [...big, ...series]
    all.forEach((x, i) => writeFileSync(join(root, 'drop-cut', `${i}.dcm`), x.bytes))
    const g = await startGateway(cfg, { pollMs: 100, backoffMs: 100, statusServer: false })
    try {
      const objs = () => g.outbox.db.prepare('SELECT state, outcome, study_uid, sop_uid, output_sha256 FROM objects').all() as Array<{ state: string; outcome: string; study_uid: string; sop_uid: string; output_sha256: string }>
      await until('every object confirmed through the cutting proxy', () => objs().length === all.length && objs().every((r) => r.state === 'confirmed'), 120_000)
      assert.equal(proxy.cut(), 8, 'the link was cut mid-upload')
      assert.ok(g.uploader.state.resumes >= 1, `uploads resumed from the hub's offset (${g.uploader.state.resumes} times)`)
      assert.ok(objs().every((r) => r.outcome === 'stored'))
      for (const uid of new Set(objs().map((r) => r.study_uid))) {
        const m = (await (await hub.fetch(`${hub.url}/uploads/studies/${uid}`)).json()) as { instances: Array<{ sopInstanceUid: string; sha256: string }> }
        assert.deepEqual(m.instances.map((i) => `${i.sopInstanceUid}:${i.sha256}`).sort(), objs().filter((r) => r.study_uid === uid).map((r) => `${r.sop_uid}:${r.output_sha256}`).sort())
      }
    } finally {
      await g.stop()
      await proxy.close()
    }
  })

  it('takes a study pushed by DCMTK storescu through the DICOM receiver to the hub', async (t) => {
    const { requireTool } = await import('./support/tools.ts')
    if (!requireTool(t, 'dcmtk', 'apt-get install dcmtk')) return
    const cfg = parseGatewayConfig({
      site: 'test-site',
      hub: { url: hub.url, tokenFile: 'token' },
      collection: 'gw-e2e',
      deid: { policy: 'basic', secretFile: 'secret.key' },
      spool: 'spool-dimse',
      sources: { dicom: { aeTitle: 'KURA', port: 0, allowedCallingAEs: ['MODALITY1'] } },
      limits: { minFreeDiskBytes: 0 },
      status: { port: 0 },
    }, join(root, 'gateway.yaml'))
    const dir = join(root, 'scu')
    const inst = [...synthStudies({ studies: 1, seriesPerStudy: 2, instancesPerSeries: 3, seed: 31, modality: 'CT', charset: 'mixed', ...small })]
    mkdirSync(dir)
    inst.forEach((x, i) => writeFileSync(join(dir, `${i}.dcm`), x.bytes))
    const g = await startGateway(cfg, { pollMs: 100, backoffMs: 100 })
    try {
      const code = await new Promise<number>((resolve, reject) => {
        const p = spawn('storescu', ['-aec', 'KURA', '-aet', 'MODALITY1', '+sd', '127.0.0.1', String(g.dimse!.port), dir], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TCP_NODELAY: '1' } })
        let err = ''
        p.stderr.on('data', (d) => (err += d))
        p.on('error', reject)
        p.on('close', (c) => (c === 0 ? resolve(0) : reject(new Error(`storescu exited ${c}: ${err}`))))
      })
      assert.equal(code, 0)
      const objs = () => g.outbox.db.prepare('SELECT state, source, outcome FROM objects').all() as Array<{ state: string; source: string; outcome: string }>
      await until('the pushed study confirmed', () => objs().length === inst.length && objs().every((r) => r.state === 'confirmed'))
      assert.ok(objs().every((r) => r.source === 'dimse' && r.outcome === 'stored'))
    } finally {
      await g.stop()
    }
  })
})
