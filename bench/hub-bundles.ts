/**
 * @module The hub's side of a site gateway's upload, alone: pre-built gateway-style bundles sent to a fresh
 * `kura hub` the way the gateway's uploader does, and the hub's CPU per instance.
 *
 * The corpus is bench gateway's (CT 128², `@kura/dicom/synth`, seed 7), de-identified once in memory with
 * BASIC_POLICY (as the gateway does) and cut into ustar bundles of `--bundle` instances of one series, each entry
 * named `<sha256>.dcm`. Each bundle is one tus upload (docs/upload-protocol.md): POST /uploads (Upload-Metadata
 * kind dicom-bundle, collection, sha256, study, count), one PATCH with `Upload-Checksum: sha256`, then
 * GET /uploads/{id}/result; `--concurrency` uploads in flight (the gateway's default is 4). The collection is
 * created de-identified first, so the hub runs its receipt check on every object, as it does for a site.
 * CPU ms/instance is the hub process's user + system time from the first POST to the last result, from /proc.
 * Nothing of the gateway package is used: this is the HTTP contract only.
 *
 *   npx kura bench hub-bundles --help
 *   KURA_BENCH_HUB_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npx kura bench hub-bundles --reps 1
 *   KURA_BENCH_HUB_ATTACH="strace -f -c -o /tmp/s.txt -p {pid}" npx kura bench hub-bundles --reps 1
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { synthStudiesAsync } from '@kura/dicom/synth'
import { BASIC_POLICY, deidentifyBytes, generateSecret } from '@kura/deid'
import { openCatalog } from '@kura/storage'
// The gateway's own tar header, so the bundles are byte for byte what a gateway sends.
import { ustarHeader } from '../packages/gateway/src/upload/tar.ts'
import { startKura as startHub } from './lib/kura.ts'
import { fmt, machineLine, nowMs, num, parseFlags, printTable, readCpuSeconds, runIfMain, sleep } from './lib/util.ts'

const USAGE = `
kura bench hub-bundles — the hub receiving gateway bundles (tus, ustar of de-identified CT): CPU ms per instance

  npx kura bench hub-bundles [options]

KURA_BENCH_HUB_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") goes to the hub's node.
Target (issue 4): the hub at about 1 ms CPU per instance or less.`

interface Bundle { study: string; count: number; tar: Buffer; sha256: string }

function tarOf(objects: Uint8Array[]): Buffer {
  const parts: Buffer[] = []
  for (const o of objects) {
    parts.push(ustarHeader(`${createHash('sha256').update(o).digest('hex')}.dcm`, o.length, 0), Buffer.from(o.buffer, o.byteOffset, o.byteLength))
    const pad = (512 - (o.length % 512)) % 512
    if (pad) parts.push(Buffer.alloc(pad))
  }
  parts.push(Buffer.alloc(1024))
  return Buffer.concat(parts)
}

/** The de-identified corpus, bundled per series in order. */
async function buildBundles(instances: number, size: number, per: number): Promise<Bundle[]> {
  const perSeries = Math.min(instances, 500)
  const ctx = { policy: BASIC_POLICY, secret: generateSecret(), collection: 'bench-hub' }
  const bySeries = new Map<string, { study: string; objects: Uint8Array[] }>()
  const opts = { studies: Math.ceil(instances / perSeries), seriesPerStudy: 1, instancesPerSeries: perSeries, modality: 'CT' as const, sizes: { CT: { rows: size, columns: size } }, seed: 7 }
  let n = 0
  for await (const inst of synthStudiesAsync(opts)) {
    if (n++ >= instances) break
    const { output, report } = await deidentifyBytes(inst.bytes, ctx)
    const uid = (k: string) => report.mappedUids.find((m) => m.keyword === k)?.replacement ?? ''
    const series = uid('SeriesInstanceUID')
    if (!bySeries.has(series)) bySeries.set(series, { study: uid('StudyInstanceUID'), objects: [] })
    bySeries.get(series)!.objects.push(output)
  }
  const bundles: Bundle[] = []
  for (const { study, objects } of bySeries.values()) {
    for (let i = 0; i < objects.length; i += per) {
      const slice = objects.slice(i, i + per)
      const tar = tarOf(slice)
      bundles.push({ study, count: slice.length, tar, sha256: createHash('sha256').update(tar).digest('hex') })
    }
  }
  return bundles
}

const TUS = { 'tus-resumable': '1.0.0' }
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64')

/** One bundle through tus, as the gateway's uploader sends it; returns the outcome counts. */
async function upload(url: string, auth: Record<string, string>, collection: string, b: Bundle): Promise<Record<string, number>> {
  const meta = `kind ${b64('dicom-bundle')},collection ${b64(collection)},sha256 ${b64(b.sha256)},study ${b64(b.study)},count ${b64(String(b.count))}`
  const created = await fetch(`${url}/uploads`, { method: 'POST', headers: { ...TUS, ...auth, 'upload-length': String(b.tar.length), 'upload-metadata': meta } })
  if (created.status !== 201) throw new Error(`POST /uploads: ${created.status} ${await created.text()}`)
  const at = new URL(created.headers.get('location')!, url + '/').toString()
  const digest = createHash('sha256').update(b.tar).digest('base64')
  const patched = await fetch(at, { method: 'PATCH', headers: { ...TUS, ...auth, 'content-type': 'application/offset+octet-stream', 'upload-offset': '0', 'upload-checksum': `sha256 ${digest}` }, body: b.tar })
  if (patched.status !== 204) throw new Error(`PATCH: ${patched.status} ${await patched.text()}`)
  const res = await fetch(`${at}/result`, { headers: { ...TUS, ...auth, accept: 'application/json' } })
  const r = (await res.json()) as { state: string; objects: Array<{ outcome: string }> }
  if (r.state !== 'complete') throw new Error(`upload ${r.state}: ${JSON.stringify(r).slice(0, 300)}`)
  const counts: Record<string, number> = {}
  for (const o of r.objects) counts[o.outcome] = (counts[o.outcome] ?? 0) + 1
  return counts
}

/** CPU seconds (user, system) per thread name of a process, from /proc/<pid>/task. */
function threadCpu(pid: number): Map<string, { user: number; sys: number }> {
  const out = new Map<string, { user: number; sys: number }>()
  let tasks: string[] = []
  try { tasks = readdirSync(`/proc/${pid}/task`) } catch { return out }
  for (const t of tasks) {
    try {
      const s = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8')
      const comm = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')).replace(/[0-9]+$/, '#')
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
      const c = out.get(comm) ?? { user: 0, sys: 0 }
      c.user += Number(f[11]) / 100
      c.sys += Number(f[12]) / 100
      out.set(comm, c)
    } catch { /* thread gone */ }
  }
  return out
}

/** Per thread kind, ms of user + system CPU per instance between two threadCpu readings. */
function threadSplit(a: Map<string, { user: number; sys: number }>, b: Map<string, { user: number; sys: number }>, n: number): string {
  const parts: string[] = []
  for (const [k, v] of b) {
    const u = (v.user - (a.get(k)?.user ?? 0)) * 1000 / n, s = (v.sys - (a.get(k)?.sys ?? 0)) * 1000 / n
    if (u + s >= 0.01) parts.push(`${k} ${u.toFixed(2)}u+${s.toFixed(2)}s`)
  }
  return parts.join(', ')
}

interface Round { seconds: number; cpuMs: number; load: number; outcomes: Record<string, number>; indexed: number; againCpuMs: number; threads: string }

async function round(bundles: Bundle[], expected: number, concurrency: number, backend: 'sqlite' | 'postgres', again: boolean): Promise<Round> {
  const nodeArgs = (process.env.KURA_BENCH_HUB_NODE_ARGS ?? '').split(' ').filter(Boolean)
  const hub = await startHub({ backend, nodeArgs, env: { KURA_LOG_LEVEL: 'warn' } })
  try {
    const collection = 'bench-hub'
    const made = await fetch(`${hub.url}/api/collections`, { method: 'POST', headers: { ...hub.headers, 'content-type': 'application/json' }, body: JSON.stringify({ name: collection, deidentified: true }) })
    if (made.status !== 201) throw new Error(`POST /api/collections: ${made.status} ${await made.text()}`)
    // KURA_BENCH_HUB_ATTACH, e.g. "strace -f -c -o /tmp/s.txt -p {pid}" or "perf record -g -o /tmp/p.data -p {pid}":
    // a tool attached to the hub over the first send, then stopped with SIGINT.
    const attach = process.env.KURA_BENCH_HUB_ATTACH?.replaceAll('{pid}', String(hub.pid)).split(' ').filter(Boolean)
    const tracer = attach?.length ? spawn(attach[0]!, attach.slice(1), { stdio: 'ignore' }) : null
    if (tracer) await sleep(1000)
    const load = loadavg()[0]!
    const send = async () => {
      const outcomes: Record<string, number> = {}
      let next = 0
      const worker = async () => {
        while (next < bundles.length) {
          const c = await upload(hub.url, hub.headers, collection, bundles[next++]!)
          for (const [k, v] of Object.entries(c)) outcomes[k] = (outcomes[k] ?? 0) + v
        }
      }
      const cpu0 = readCpuSeconds(hub.pid)
      const th0 = threadCpu(hub.pid)
      const t0 = nowMs()
      await Promise.all(Array.from({ length: concurrency }, worker))
      return { seconds: (nowMs() - t0) / 1000, cpuMs: ((readCpuSeconds(hub.pid) - cpu0) * 1000) / expected, outcomes, threads: threadSplit(th0, threadCpu(hub.pid), expected) }
    }
    const first = await send()
    if (tracer) {
      tracer.kill('SIGINT')
      await new Promise((ok) => tracer.once('exit', ok))
    }
    // The same bundles again: every object a duplicate (the idempotent path a gateway's retry takes).
    const second = again ? await send() : null
    let indexed = -1
    if (backend === 'sqlite') {
      const catalog = await openCatalog(`sqlite:${join(hub.dir, 'data', 'catalog.sqlite')}`)
      try {
        indexed = Number((await catalog.db.selectFrom('instance').select((e) => e.fn.countAll().as('n')).executeTakeFirst())?.n ?? 0)
      } finally {
        await catalog.close()
      }
    }
    return { ...first, load, indexed, againCpuMs: second?.cpuMs ?? NaN }
  } finally {
    await hub.stop()
  }
}

export async function run(argv: string[]): Promise<void> {
  const f = await parseFlags(argv, USAGE, {
    instances: { type: 'string', default: '1000', help: 'CT instances (two series of up to 500)' },
    size: { type: 'string', default: '128', help: 'CT rows and columns' },
    bundle: { type: 'string', default: '128', help: 'instances per bundle (one upload; the gateway bundles up to 128)' },
    concurrency: { type: 'string', default: '4', help: 'uploads in flight' },
    reps: { type: 'string', default: '3', help: 'rounds, each on a fresh hub' },
    backend: { type: 'string', default: 'sqlite', help: 'sqlite | postgres (KURA_BENCH_PG_ADMIN_URL)' },
    again: { type: 'boolean', default: false, help: 'send every bundle a second time (all duplicates) and time that too' },
  })
  if (!f) return
  const instances = num(f.instances, 'instances'), size = num(f.size, 'size'), per = num(f.bundle, 'bundle'), conc = num(f.concurrency, 'concurrency'), reps = num(f.reps, 'reps')
  const backend = f.backend === 'postgres' ? 'postgres' : 'sqlite'
  console.log(await machineLine())
  const bundles = await buildBundles(instances, size, per)
  const n = bundles.reduce((s, b) => s + b.count, 0)
  console.log(`${n} de-identified CT ${size}² instances in ${bundles.length} bundles of up to ${per}; ${conc} uploads in flight; ${backend}`)
  const rows = [['round', 'inst/s', 'hub CPU ms/inst', 'again (duplicates) ms/inst', 'outcomes', 'indexed', 'load avg']]
  for (let rep = 0; rep < reps; rep++) {
    const r = await round(bundles, n, conc, backend, Boolean(f.again))
    const outcomes = Object.entries(r.outcomes).map(([k, v]) => `${k} ${v}`).join(', ')
    rows.push([String(rep + 1), fmt(n / r.seconds), r.cpuMs.toFixed(2), Number.isNaN(r.againCpuMs) ? '—' : r.againCpuMs.toFixed(2), outcomes, r.indexed < 0 ? '—' : String(r.indexed), r.load.toFixed(2)])
    console.log(`round ${rep + 1}: ${fmt(n / r.seconds)} inst/s, hub ${r.cpuMs.toFixed(2)} ms CPU/instance${Number.isNaN(r.againCpuMs) ? '' : `, again ${r.againCpuMs.toFixed(2)}`} (${outcomes}; load ${r.load.toFixed(2)})\n  per thread, ms/instance: ${r.threads}`)
  }
  printTable(rows, `Hub receiving gateway bundles: ${n} × CT ${size}², ${backend}`)
}

runIfMain(import.meta.url, run)
