/**
 * @module QIDO-RS search latency and series `metadata` latency, Kura vs Orthanc, same data.
 *
 * Each server (one at a time) is filled with the same corpus over STOW-RS (or reused with
 * --keep), optionally scaled with many more tiny instances (--scale, also over STOW-RS), then
 * answers the same sequence of requests, one at a time over a keep-alive connection:
 *   - /studies?PatientName=<prefix>*      (person-name wildcard)
 *   - /studies?StudyDate=<from>-<to>      (date range)
 *   - /studies?PatientID=<id>             (exact)
 *   - /studies/{s}/series/{se}/metadata   (a whole series' instance metadata)
 * Query values are picked once from the first server's data and reused for the other.
 *
 * --scale-sql N (Kura on PostgreSQL only) bulk-inserts N synthetic catalog rows straight into
 * Kura's catalog tables (no objects behind them): figures measured that way are labelled
 * "SQL-filled", as they are not an archive anyone could have built through the API.
 *
 *   npx tsx bench/query.ts --help
 */
import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { ensureCorpus, memoryInstances } from './lib/corpus.ts'
import { scaleKuraCatalogSql } from './lib/catalog-fill.ts'
import { countInstances, first, label, listAll, startServer, type Backend, type Server, type ServerKind } from './lib/servers.ts'
import { stow } from './lib/stow.ts'
import { backendsOf, fmt, getJson, loud, num, parseFlags, printTable, quantile, runIfMain, machineLine } from './lib/util.ts'

const USAGE = `
kura bench query — QIDO-RS search and series metadata latency, Kura vs Orthanc (same data)

  npx tsx bench/query.ts [options]
  npx kura bench query [options]

Targets (issue, 2-core machine): study search p95 ≤ 10 ms; metadata of a 100-instance series
≤ 10 ms with many instances in PostgreSQL (Orthanc: 100–114 ms for that at 10k instances).`

interface Stats {
  n: number
  p50: number
  p95: number
  p99: number
  mean: number
  max: number
  avgResults: number
  avgKB: number
  errors: number
  firstError?: string
}

interface QueryDef {
  name: string
  paths: string[]
  requests: number
}

interface Row {
  server: ServerKind
  backend: Backend
  instances?: number
  scaleNote?: string
  stats: Record<string, Stats>
  note?: string
}

async function measure(s: Server, paths: string[], n: number, warmup: number): Promise<Stats> {
  const lat: number[] = []
  let results = 0, bytes = 0, errors = 0
  let firstError: string | undefined
  for (let i = 0; i < warmup + n; i++) {
    const p = paths[i % paths.length]
    try {
      const r = await getJson<unknown[] | null>(`${s.dicomwebUrl}${p}`, s.headers)
      if (r.status !== 200 && r.status !== 204) {
        errors++
        firstError ??= `${p}: status ${r.status}`
        continue
      }
      if (i >= warmup) {
        lat.push(r.ms)
        results += Array.isArray(r.json) ? r.json.length : 0
        bytes += JSON.stringify(r.json ?? '').length
      }
    } catch (e) {
      errors++
      firstError ??= `${p}: ${(e as Error).message}`
    }
  }
  lat.sort((a, b) => a - b)
  const k = lat.length || 1
  return {
    n: lat.length, p50: quantile(lat, 0.5), p95: quantile(lat, 0.95), p99: quantile(lat, 0.99),
    mean: lat.reduce((a, b) => a + b, 0) / k, max: lat[lat.length - 1] ?? NaN,
    avgResults: results / k, avgKB: bytes / k / 1024, errors, firstError,
  }
}

type DicomJson = Record<string, { vr?: string; Value?: unknown[] }>

/** Picks query values from a server's data: name prefixes, IDs, date ranges, 100-instance series. */
async function pickQueries(s: Server, o: { count: number; limit: number; metadataSeries: number; requests: number; metadataRequests: number; instancesPerSeries: number }): Promise<QueryDef[]> {
  const r = await getJson<DicomJson[]>(`${s.dicomwebUrl}/studies?limit=500`, s.headers)
  if (r.status !== 200 || !Array.isArray(r.json) || !r.json.length) throw new Error(`could not list studies on ${label(s)} (status ${r.status})`)
  const studies = r.json
  const lim = o.limit > 0 ? `&limit=${o.limit}` : ''
  const names = [...new Set(studies.map((d) => String(first(d, '00100010') ?? '')).filter(Boolean))]
  const prefixes = [...new Set(names.map((n) => n.slice(0, 3)).filter((p) => p.length === 3))].slice(0, o.count)
  const ids = [...new Set(studies.map((d) => String(first(d, '00100020') ?? '')).filter(Boolean))].slice(0, o.count)
  const dates = [...new Set(studies.map((d) => String(first(d, '00080020') ?? '')).filter((x) => /^\d{8}$/.test(x)))].sort()
  const span = Math.max(1, Math.floor(dates.length / 5))
  const ranges: string[] = []
  for (let i = 0; i < Math.min(o.count, dates.length); i++) {
    const a = dates[(i * 7) % dates.length], b = dates[Math.min(dates.length - 1, ((i * 7) % dates.length) + span)]
    ranges.push(`${a}-${b}`)
  }
  // Series with the corpus' instances-per-series (the metadata target is a 100-instance series).
  const series: string[] = []
  for (const st of studies) {
    if (series.length >= o.metadataSeries) break
    const sUid = String(first(st, '0020000D') ?? '')
    if (!sUid) continue
    const se = await getJson<DicomJson[]>(`${s.dicomwebUrl}/studies/${sUid}/series`, s.headers)
    if (se.status !== 200 || !Array.isArray(se.json)) continue
    for (const x of se.json) {
      const seUid = String(first(x, '0020000E') ?? '')
      const count = Number(first(x, '00201209') ?? o.instancesPerSeries)
      if (seUid && count === o.instancesPerSeries) {
        series.push(`/studies/${sUid}/series/${seUid}/metadata`)
        break
      }
    }
  }
  return [
    { name: 'study: PatientName=XXX*', paths: prefixes.map((p) => `/studies?PatientName=${encodeURIComponent(p + '*')}${lim}`), requests: o.requests },
    { name: 'study: StudyDate=range', paths: ranges.map((x) => `/studies?StudyDate=${x}${lim}`), requests: o.requests },
    { name: 'study: PatientID=exact', paths: ids.map((x) => `/studies?PatientID=${encodeURIComponent(x)}${lim}`), requests: o.requests },
    { name: `series metadata (${o.instancesPerSeries} inst.)`, paths: series, requests: o.metadataRequests },
  ].filter((q) => q.paths.length)
}

export async function run(argv: string[]): Promise<void> {
  const f = await parseFlags(argv, USAGE, {
    studies: { type: 'string', default: '20', help: 'studies in the base corpus' },
    series: { type: 'string', default: '1', help: 'series per study' },
    instances: { type: 'string', default: '100', help: 'instances per series (the metadata target is 100)' },
    rows: { type: 'string', default: '64', help: 'image rows' },
    cols: { type: 'string', default: '64', help: 'image columns' },
    seed: { type: 'string', default: '1', help: 'corpus seed' },
    modality: { type: 'string', default: 'CT', help: 'CT | MR | ES | mixed (mixed needs @kura/dicom/synth)' },
    generator: { type: 'string', default: 'auto', help: 'auto | synth | fallback' },
    backend: { type: 'string', default: 'postgres', help: 'sqlite | postgres | both' },
    only: { type: 'string', default: 'both', help: 'kura | orthanc | both' },
    requests: { type: 'string', default: '200', help: 'timed requests per search' },
    'metadata-requests': { type: 'string', default: '50', help: 'timed series metadata requests' },
    warmup: { type: 'string', default: '10', help: 'untimed requests before each measurement' },
    limit: { type: 'string', default: '100', help: 'QIDO limit on study searches (0: none)' },
    scale: { type: 'string', default: '0', help: 'extra tiny instances STOWed before measuring (100 per series)' },
    'scale-target': { type: 'string', default: 'both', help: 'which servers get --scale: kura | both' },
    'scale-sql': { type: 'string', default: '0', help: 'Kura/PostgreSQL only: bulk-insert this many synthetic catalog rows (labelled SQL-filled)' },
    keep: { type: 'boolean', default: false, help: 'keep servers\' data under /tmp/kura-bench-keep (and databases) to reuse next run' },
    'orthanc-config': { type: 'string', help: 'JSON merged over the generated Orthanc configuration' },
    json: { type: 'string', help: 'also write the results as JSON to this file' },
  })
  if (!f) return
  console.log(await machineLine())
  const studies = num(f.studies, 'studies'), seriesN = num(f.series, 'series'), instances = num(f.instances, 'instances')
  const rows = num(f.rows, 'rows'), cols = num(f.cols, 'cols'), seed = num(f.seed, 'seed')
  const requests = num(f.requests, 'requests'), metadataRequests = num(f['metadata-requests'], 'metadata-requests'), warmup = num(f.warmup, 'warmup')
  const limit = num(f.limit, 'limit'), scale = num(f.scale, 'scale'), scaleSql = num(f['scale-sql'], 'scale-sql')
  const backends = backendsOf(f.backend)
  const kinds: ServerKind[] = f.only === 'both' ? ['orthanc', 'kura'] : [f.only as ServerKind]
  const orthancConfig = f['orthanc-config'] ? JSON.parse(String(f['orthanc-config'])) : undefined

  const corpus = await ensureCorpus({ studies, series: seriesN, instances, rows, cols, seed, modality: f.modality as 'CT', generator: f.generator as 'auto' })
  console.log(`corpus: ${corpus.files.length} instances, ${fmt(corpus.totalBytes / 1048576)} MB, ${corpus.generator} generator (${corpus.dir})`)
  const scaleItems = scale > 0 ? memoryInstances({ seed: seed + 2000, count: scale, perSeries: 100 }) : []
  const keyOf = (kind: ServerKind, backend: Backend) => {
    const h = createHash('sha1').update(`${corpus.dir}|${scale}|${kind}|${backend}`).digest('hex').slice(0, 10)
    return { dir: `/tmp/kura-bench-keep/${kind}-${backend}-${h}`, db: `kura_bench_keep_${kind}_${h}` }
  }

  let queries: QueryDef[] | null = null
  const pickOpts = { count: 20, limit, metadataSeries: 10, requests, metadataRequests, instancesPerSeries: instances }
  const results: Row[] = []
  for (const backend of backends) {
    for (const kind of kinds) {
      const row: Row = { server: kind, backend, stats: {} }
      results.push(row)
      const keep = f.keep ? keyOf(kind, backend) : undefined
      const s = await startServer(kind, backend, {
        orthanc: { extraConfig: orthancConfig, ...(keep ? { dataDir: keep.dir, database: keep.db, keep: true } : {}) },
        kura: keep ? { dataDir: keep.dir, database: keep.db, keep: true } : {},
      })
      if (!s) { row.note = 'did not run'; continue }
      try {
        const target = corpus.files.length + (kind === 'kura' || f['scale-target'] === 'both' ? scaleItems.length : 0)
        const have = keep ? (await countInstances(s).catch(() => ({ count: 0 }))).count : 0
        if (have >= target) console.log(`${label(s)}: reusing ${have} instances (--keep)`)
        else {
          const r = await stow(s.dicomwebUrl, corpus.files, { batch: 10, concurrency: 4, headers: s.headers })
          console.log(`${label(s)}: loaded ${r.ok}/${r.instances} in ${fmt(r.seconds)} s (${fmt(r.instancesPerSec)}/s)`)
          if (r.failed) loud(`${label(s)}: ${r.failed} failed: ${r.errors.join('; ')}`)
          // Query values come from the base corpus (present on both servers), before any scaling.
          queries ??= await pickQueries(s, pickOpts)
          if (scaleItems.length && (kind === 'kura' || f['scale-target'] === 'both')) {
            let lastPct = -1
            process.stdout.write(`${label(s)}: scaling with ${scaleItems.length} tiny instances `)
            const sr = await stow(s.dicomwebUrl, scaleItems, {
              batch: 50, concurrency: 4, headers: s.headers,
              onProgress: (d, t) => { const p = Math.floor((d / t) * 20); if (p !== lastPct) { lastPct = p; process.stdout.write('.') } },
            })
            console.log(` ${sr.ok} in ${fmt(sr.seconds)} s (${fmt(sr.instancesPerSec)}/s)`)
            if (sr.failed) loud(`${label(s)} scale: ${sr.failed} failed: ${sr.errors.join('; ')}`)
          }
        }
        if (kind === 'kura' && scaleSql > 0) {
          if (backend !== 'postgres' || !s.databaseUrl) loud('--scale-sql only applies to Kura on PostgreSQL; ignored here.')
          else {
            let lastPct = -1
            process.stdout.write(`${label(s)}: SQL-filling the catalog with ${scaleSql} instance rows `)
            const filled = await scaleKuraCatalogSql(s.databaseUrl, scaleSql, {
              seed: seed + 3000,
              onProgress: (d, t) => { const p = Math.floor((d / t) * 20); if (p !== lastPct) { lastPct = p; process.stdout.write('.') } },
            })
            console.log(' done')
            row.scaleNote = `+${filled.rows} SQL-filled rows (${fmt(filled.seconds)} s)`
            console.log(`${label(s)}: ${row.scaleNote}`)
          }
        }
        const c = await countInstances(s).catch((e) => ({ count: NaN, how: (e as Error).message }))
        row.instances = c.count
        queries ??= await pickQueries(s, pickOpts)
        for (const q of queries) {
          process.stdout.write(`${label(s)}: ${q.name} ×${q.requests} … `)
          const st = await measure(s, q.paths, q.requests, warmup)
          row.stats[q.name] = st
          console.log(`p50 ${fmt(st.p50, 2)} ms, p95 ${fmt(st.p95, 2)} ms${st.errors ? ` (${st.errors} errors: ${st.firstError})` : ''}`)
        }
      } catch (e) {
        row.note = `failed: ${(e as Error).message}`
        loud(`${label(s)}: ${(e as Error).message}`)
      } finally {
        await s.stop()
      }
    }
  }

  if (!queries) return
  for (const backend of backends) {
    const o = results.find((r) => r.server === 'orthanc' && r.backend === backend)
    const k = results.find((r) => r.server === 'kura' && r.backend === backend)
    const t = [['query', 'server', 'instances', 'p50 ms', 'p95 ms', 'p99 ms', 'mean ms', 'results', 'KB', 'errors', 'speed-up p95']]
    for (const q of queries) {
      for (const r of [o, k]) {
        if (!r) continue
        const st = r.stats[q.name]
        const other = r.server === 'kura' ? o?.stats[q.name] : undefined
        t.push([
          q.name, `${r.server === 'kura' ? 'Kura' : 'Orthanc'}${r.scaleNote ? ' (SQL-filled)' : ''}`,
          r.instances !== undefined ? String(r.instances) : '—',
          st ? fmt(st.p50, 2) : '—', st ? fmt(st.p95, 2) : '—', st ? fmt(st.p99, 2) : '—', st ? fmt(st.mean, 2) : '—',
          st ? fmt(st.avgResults, 1) : (r.note ?? '—'), st ? fmt(st.avgKB, 1) : '—', st ? String(st.errors) : '—',
          r.server === 'kura' && st && other ? `${(other.p95 / st.p95).toFixed(1)}×` : '',
        ])
      }
    }
    printTable(t, `QIDO / metadata latency — ${backend}, ${requests} requests per search (${metadataRequests} metadata), one at a time, limit ${limit || 'none'}`)
    for (const q of queries) {
      const ko = k?.stats[q.name], oo = o?.stats[q.name]
      if (ko && oo && Math.abs(ko.avgResults - oo.avgResults) > 0.01) loud(`${backend} ${q.name}: Kura returned ${fmt(ko.avgResults)} results per request, Orthanc ${fmt(oo.avgResults)} — they should match.`)
      if (ko) console.log(`  Kura ${q.name}: p95 ${fmt(ko.p95, 2)} ms (target ≤ 10 ms) ${ko.p95 <= 10 ? 'MET' : 'NOT MET'}`)
    }
    if (k?.scaleNote) console.log(`  Kura catalog: ${k.scaleNote} — SQL-filled: rows inserted straight into the catalog, not through STOW.`)
  }
  if (f.json) writeFileSync(String(f.json), JSON.stringify({ corpus: { dir: corpus.dir, files: corpus.files.length }, scale, scaleSql, queries, results }, null, 2))
}

runIfMain(import.meta.url, run)
