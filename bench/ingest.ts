/**
 * @module STOW-RS ingest throughput, Kura vs Orthanc, same corpus, same requests, same run.
 *
 * For each backend class (SQLite, PostgreSQL) each server is started fresh, warmed up with a few
 * instances of a separate corpus, then sent the whole corpus (`--batch` instances per request,
 * `--concurrency` requests in flight); the servers run one after the other so they never compete
 * for the CPU. Afterwards both must report the same number of instances.
 *
 *   npx tsx bench/ingest.ts --help
 */
import { ensureCorpus } from './lib/corpus.ts'
import { countInstances, label, startServer, type Backend, type Server, type ServerKind } from './lib/servers.ts'
import { stow, type StowResult } from './lib/stow.ts'
import { backendsOf, fmt, loud, num, parseFlags, printTable, ratio, runIfMain, machineLine, readCpuSeconds } from './lib/util.ts'
import { writeFileSync } from 'node:fs'

const USAGE = `
kura bench ingest — STOW-RS instances/s, Kura vs Orthanc (same corpus, same requests)

  npx tsx bench/ingest.ts [options]
  npx kura bench ingest [options]

Target (issue, 2-core machine): Kura ≥ 3× Orthanc's instances/s on the same backend class.`

export interface IngestRow {
  server: ServerKind
  backend: Backend
  result?: StowResult
  /** CPU seconds the server process used during the timed STOW (its database server not included). */
  cpuSeconds?: number
  /** CPU seconds the benchmark client itself used meanwhile (it shares the machine). */
  clientCpuSeconds?: number
  stored?: number
  countHow?: string
  note?: string
}

export async function run(argv: string[]): Promise<void> {
  const f = await parseFlags(argv, USAGE, {
    studies: { type: 'string', default: '10', help: 'studies in the corpus' },
    series: { type: 'string', default: '4', help: 'series per study' },
    instances: { type: 'string', default: '50', help: 'instances per series' },
    rows: { type: 'string', default: '128', help: 'image rows (small images keep the run short)' },
    cols: { type: 'string', default: '128', help: 'image columns' },
    modality: { type: 'string', default: 'CT', help: 'CT | MR | ES | mixed (mixed needs @kura/dicom/synth)' },
    seed: { type: 'string', default: '1', help: 'corpus seed' },
    generator: { type: 'string', default: 'auto', help: 'auto | synth | fallback' },
    backend: { type: 'string', default: 'sqlite', help: 'sqlite | postgres | both' },
    concurrency: { type: 'string', default: '4', help: 'STOW requests in flight' },
    batch: { type: 'string', default: '10', help: 'instances per STOW request' },
    warmup: { type: 'string', default: '50', help: 'instances (separate corpus) sent before timing' },
    only: { type: 'string', default: 'both', help: 'kura | orthanc | both' },
    'orthanc-config': { type: 'string', help: 'JSON merged over the generated Orthanc configuration' },
    'kura-node-args': { type: 'string', help: 'extra node flags for the hub, space-separated (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof")' },
    json: { type: 'string', help: 'also write the results as JSON to this file' },
  })
  if (!f) return
  console.log(await machineLine())
  const studies = num(f.studies, 'studies'), series = num(f.series, 'series'), instances = num(f.instances, 'instances')
  const rows = num(f.rows, 'rows'), cols = num(f.cols, 'cols'), seed = num(f.seed, 'seed')
  const concurrency = num(f.concurrency, 'concurrency'), batch = num(f.batch, 'batch'), warmupN = num(f.warmup, 'warmup')
  const backends = backendsOf(f.backend)
  const kinds: ServerKind[] = f.only === 'both' ? ['orthanc', 'kura'] : [f.only as ServerKind]
  const modality = f.modality as 'CT'
  const generator = f.generator as 'auto'
  const orthancConfig = f['orthanc-config'] ? JSON.parse(String(f['orthanc-config'])) : undefined

  const corpus = await ensureCorpus({ studies, series, instances, rows, cols, seed, modality, generator })
  console.log(`corpus: ${corpus.files.length} instances, ${fmt(corpus.totalBytes / 1048576)} MB, ${corpus.generator} generator, ${corpus.reused ? 'reused' : `built in ${fmt(corpus.seconds)} s`} (${corpus.dir})`)
  const warm = warmupN > 0
    ? await ensureCorpus({ studies: 1, series: 1, instances: warmupN, rows, cols, seed: seed + 1000, modality, generator: corpus.generator })
    : null
  console.log(`STOW: ${batch} instances/request, ${concurrency} in flight${warm ? `, warm-up ${warm.files.length} instances (not timed)` : ''}`)

  const results: IngestRow[] = []
  for (const backend of backends) {
    for (const kind of kinds) {
      const row: IngestRow = { server: kind, backend }
      results.push(row)
      const s: Server | null = await startServer(kind, backend, {
        orthanc: { extraConfig: orthancConfig },
        kura: { nodeArgs: f['kura-node-args'] ? String(f['kura-node-args']).split(/\s+/).filter(Boolean) : [] },
      })
      if (!s) {
        row.note = 'did not run'
        continue
      }
      try {
        process.stdout.write(`${label(s)}: `)
        if (warm) {
          const w = await stow(s.dicomwebUrl, warm.files, { batch, concurrency, headers: s.headers })
          if (w.failed) loud(`${label(s)} warm-up: ${w.failed} failed: ${w.errors.join('; ')}`)
        }
        let lastPct = -1
        const cpu0 = readCpuSeconds(s.pid)
        const client0 = process.cpuUsage()
        const r = await stow(s.dicomwebUrl, corpus.files, {
          batch, concurrency, headers: s.headers,
          onProgress: (d, t) => {
            const pct = Math.floor((d / t) * 10)
            if (pct !== lastPct) { lastPct = pct; process.stdout.write('.') }
          },
        })
        row.result = r
        row.cpuSeconds = readCpuSeconds(s.pid) - cpu0
        const cu = process.cpuUsage(client0)
        row.clientCpuSeconds = (cu.user + cu.system) / 1e6
        console.log(` ${r.ok}/${r.instances} stored in ${fmt(r.seconds, 2)} s → ${fmt(r.instancesPerSec)} instances/s`)
        if (r.failed) loud(`${label(s)}: ${r.failed} instances failed (${r.httpErrors} requests): ${r.errors.join('; ')}`)
        try {
          const c = await countInstances(s)
          row.stored = c.count - (warm?.files.length ?? 0)
          row.countHow = c.how
        } catch (e) {
          row.note = `count failed: ${(e as Error).message}`
        }
      } catch (e) {
        row.note = `failed: ${(e as Error).message}`
        loud(`${label(s)}: ${(e as Error).message}`)
      } finally {
        await s.stop()
      }
    }
  }

  const table = [['server', 'backend', 'instances', 'failed', 'seconds', 'instances/s', 'MB/s', 'server CPU s', 'CPU ms/inst', 'client CPU s', 'stored (verified)', 'Kura/Orthanc']]
  for (const r of results) {
    const orth = results.find((o) => o.server === 'orthanc' && o.backend === r.backend)?.result
    table.push([
      r.server === 'kura' ? 'Kura' : 'Orthanc',
      r.backend,
      r.result ? String(r.result.ok) : '—',
      r.result ? String(r.result.failed) : '—',
      r.result ? fmt(r.result.seconds, 2) : '—',
      r.result ? fmt(r.result.instancesPerSec) : '—',
      r.result ? fmt(r.result.mbPerSec) : '—',
      r.cpuSeconds !== undefined ? fmt(r.cpuSeconds, 2) : '—',
      r.cpuSeconds !== undefined && r.result?.ok ? fmt((r.cpuSeconds * 1000) / r.result.ok, 2) : '—',
      r.clientCpuSeconds !== undefined ? fmt(r.clientCpuSeconds, 2) : '—',
      r.stored !== undefined ? String(r.stored) : (r.note ?? '—'),
      r.server === 'kura' ? ratio(r.result?.instancesPerSec, orth?.instancesPerSec) : '',
    ])
  }
  printTable(table, `STOW-RS ingest — ${corpus.files.length} instances (${studies}×${series}×${instances}, ${rows}×${cols}, ${fmt(corpus.totalBytes / 1048576)} MB), batch ${batch}, concurrency ${concurrency}`)
  for (const r of results) if (r.countHow) console.log(`  ${r.server}/${r.backend}: count via ${r.countHow}`)
  // Same number of instances on both sides?
  for (const backend of backends) {
    const [o, k] = [results.find((r) => r.server === 'orthanc' && r.backend === backend), results.find((r) => r.server === 'kura' && r.backend === backend)]
    if (o?.stored !== undefined && k?.stored !== undefined && o.stored !== k.stored) loud(`${backend}: Orthanc holds ${o.stored} instances, Kura ${k.stored} — they should match.`)
    if (o?.stored !== undefined && o.stored !== corpus.files.length) loud(`${backend}: Orthanc holds ${o.stored} of ${corpus.files.length} instances.`)
    if (k?.stored !== undefined && k.stored !== corpus.files.length) loud(`${backend}: Kura holds ${k.stored} of ${corpus.files.length} instances.`)
    const ratioN = k?.result && o?.result ? k.result.instancesPerSec / o.result.instancesPerSec : undefined
    if (ratioN !== undefined) console.log(`  ${backend}: Kura/Orthanc = ${ratioN.toFixed(2)}× (target ≥ 3×) ${ratioN >= 3 ? 'MET' : 'NOT MET'}`)
  }
  if (f.json) writeFileSync(String(f.json), JSON.stringify({ corpus: { ...corpus, files: corpus.files.length }, batch, concurrency, results }, null, 2))
}

runIfMain(import.meta.url, run)
