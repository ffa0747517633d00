/**
 * Crash loop: the gateway (a real process, `kura gateway --config`) is killed with SIGKILL at random moments while
 * a synthetic corpus flows from a watched folder to a real hub; after a last clean run, exactly the corpus's
 * instances are in the hub: none lost, none twice, each matching what the gateway de-identified.
 */
import { after, before, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeSecretFile } from '@kura/deid'
import { synthStudies } from '@kura/dicom/synth'
import { startTestHub, type TestHub } from './support/hub.ts'

const MODULE = new URL('../packages/cli/src/commands/gateway.ts', import.meta.url).href
const RUNNER = `const m = await import(${JSON.stringify(MODULE)}); process.exitCode = await m.run(JSON.parse(process.argv[1]))`
const TSX = import.meta.resolve('tsx')

let hub: TestHub
let root: string

before(async () => {
  hub = await startTestHub()
  root = mkdtempSync(join(tmpdir(), 'kura-gw-crash-'))
})
after(async () => {
  await hub?.close()
  rmSync(root, { recursive: true, force: true })
})

function startGatewayProcess(): { child: ChildProcess; statusPort: Promise<number> } {
  const child = spawn(process.execPath, ['--import', TSX, '--input-type=module', '-e', RUNNER, JSON.stringify(['--config', join(root, 'gateway.yaml')])], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KURA_LOG_LEVEL: 'error' } })
  let out = ''
  let err = ''
  child.stderr!.on('data', (d) => (err += d))
  const statusPort = new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d
      const m = /status on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      if (m) resolve(Number(m[1]))
    })
    child.on('close', (c, sig) => reject(new Error(`gateway exited ${c ?? sig} before it started: ${err}`)))
  })
  statusPort.catch(() => {})
  return { child, statusPort }
}

const killed = (child: ChildProcess) => new Promise<void>((r) => { if (child.exitCode !== null || child.signalCode !== null) r(); else child.once('close', () => r()) })

it('kill -9 at random moments while 120 instances flow: afterwards exactly 120 distinct instances are in the hub', async () => {
  const corpus = [...synthStudies({ studies: 3, seriesPerStudy: 2, instancesPerSeries: 20, seed: 41, modality: 'CT', charset: 'mixed', sizes: { CT: { rows: 64, columns: 64 } } })]
  mkdirSync(join(root, 'drop'))
  writeFileSync(join(root, 'token'), hub.adminToken)
  writeSecretFile(join(root, 'secret.key'))
  writeFileSync(join(root, 'gateway.yaml'), `site: crash
hub: { url: "${hub.url}", tokenFile: token }
collection: crash-loop
deid: { policy: basic, secretFile: secret.key }
spool: spool
sources: { folders: [{ path: drop, settleSeconds: 0 }] }
limits: { concurrency: 2, bundleBytes: 60KB, minFreeDiskBytes: 0 }
status: { port: 0 }
`)
  // Files keep arriving while the gateway is being killed.
  let written = 0
  const writer = (async () => {
    for (const inst of corpus) {
      writeFileSync(join(root, 'drop', `${written}.dcm`), inst.bytes)
      written++
      if (written % 10 === 0) await new Promise((r) => setTimeout(r, 150))
    }
  })()
  let kills = 0
  for (let i = 0; i < 5; i++) {
    const { child, statusPort } = startGatewayProcess()
    await statusPort
    await new Promise((r) => setTimeout(r, 300 + Math.random() * 1500))
    child.kill('SIGKILL')
    await killed(child)
    kills++
  }
  await writer
  const { child, statusPort } = startGatewayProcess()
  try {
    const port = await statusPort
    const deadline = Date.now() + 120_000
    let st: { totals: Record<string, { count: number }> } | null = null
    for (;;) {
      st = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as typeof st
      const t = st!.totals
      if (t.confirmed!.count >= corpus.length && t.received!.count + t.queued!.count + t.uploading!.count + t.retry!.count + t.deidentified!.count === 0) break
      if (Date.now() > deadline) throw new Error(`not done: ${JSON.stringify(st)}`)
      await new Promise((r) => setTimeout(r, 250))
    }
    assert.equal(kills, 5)
    assert.equal(st!.totals.quarantined!.count, 0)
    assert.equal(st!.totals.failed!.count, 0, JSON.stringify(st))
    // Every taken file is taken once: a kill never makes the gateway take a file twice.
    assert.equal(st!.totals.confirmed!.count, corpus.length)
  } finally {
    child.kill('SIGTERM')
    await killed(child)
  }
  const studies = (await (await hub.fetch(`${hub.dicomweb}/studies`, { headers: { accept: 'application/dicom+json' } })).json()) as Array<Record<string, { Value?: unknown[] }>>
  assert.equal(studies.length, 3)
  const instances = new Set<string>()
  let listed = 0
  for (const s of studies) {
    const m = (await (await hub.fetch(`${hub.url}/uploads/studies/${s['0020000D']!.Value![0]}`)).json()) as { instances: Array<{ sopInstanceUid: string; sha256: string }> }
    for (const i of m.instances) instances.add(i.sopInstanceUid)
    listed += m.instances.length
  }
  assert.equal(instances.size, corpus.length, 'exactly the corpus, no instance lost')
  assert.equal(listed, corpus.length, 'and none stored twice')
})
