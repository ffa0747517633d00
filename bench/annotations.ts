/**
 * @module Viewport query latency with 1,000,000 polygons on one slide.
 *
 * Loads synthetic cell outlines (8–24 vertices, 5–15 px radius, in Gaussian clusters like tissue regions on a
 * 150,000 × 100,000 px slide) through the annotation repository (multi-row INSERTs, revision rows included,
 * exactly what the API does), then times random viewport queries at several zoom levels: through the repository
 * twice: `repository` (queryViewport: the catalog query and the annotations as objects, what task code reads) and
 * `repository-json` (queryViewportJson: the same answer as JSON text spliced from the stored GeoJSON, what the
 * HTTP route sends); and, with --http, through GET /api/slides/{id}/annotations on an in-process hub (adds access
 * checks, the audit event and the transfer). Zoomed out, geometry comes from the tiers simplified at write time, and
 * a viewport over more shapes than the limit (scale ≥ DENSITY_MIN_SCALE) is answered with per-cell counts from
 * `annotation_density` (`density` column: how many answers were grids, and the shapes they counted). The viewport is 1600 × 1000
 * screen pixels; `scale` is level-0 pixels per screen pixel. Centres are drawn near clusters (where people look).
 *
 *   npx kura bench annotations [--engine postgres|sqlite] [--count 1000000] [--queries 50] [--http] [--database NAME]
 *
 * --database NAME keeps the PostgreSQL database (loading it only when empty), so the 1,000,000-polygon load runs once
 * and later runs time the queries alone.
 *
 * Target (issue 7): p95 viewport query ≤ 50 ms on PostgreSQL with 1,000,000 polygons.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { newId } from '@kura/core'
import { openCatalog, type Catalog } from '@kura/storage'
import { buildApp, issueAdminToken, openArchive } from '@kura/hub'
import { loadShippedVocabularies } from '../packages/hub/src/annotations/vocabulary-file.ts'
import { createAnnotations, DENSITY_MIN_SCALE, densityQuery, queryViewport, queryViewportJson, VIEWPORT_DEFAULT_LIMIT, type AnnotationInput } from '../packages/hub/src/annotations/repository.ts'
import type { Position } from '../packages/hub/src/annotations/model.ts'
import { createDatabase, dropDatabase, fmt, machineLine, num, onInterrupt, parseFlags, pgUrlFor, printTable, quantile, randomDbName, readCpuSeconds, runIfMain } from './lib/util.ts'

const USAGE = `
kura bench annotations — viewport query latency with many polygons on one slide

  npx tsx bench/annotations.ts [options]
  npx kura bench annotations [options]

Target (issue 7): p95 viewport query ≤ 50 ms on PostgreSQL with 1,000,000 polygons.`

const SLIDE_W = 150_000
const SLIDE_H = 100_000
const SCREEN_W = 1600
const SCREEN_H = 1000
const LABELS = ['tumour', 'stroma', 'lymphocytes', 'necrosis', 'normal-epithelium']
const AUTHORS = ['reader-1', 'reader-2', 'reader-3', 'ai:hovernet']

/** A deterministic PRNG (mulberry32), so runs load the same shapes. */
function rng(seed: number) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r())
}

interface Cluster {
  x: number
  y: number
  sigma: number
}

function clusters(r: () => number, n: number): Cluster[] {
  return Array.from({ length: n }, () => ({ x: 5000 + r() * (SLIDE_W - 10_000), y: 5000 + r() * (SLIDE_H - 10_000), sigma: 1000 + r() * 4000 }))
}

function cell(r: () => number, cx: number, cy: number): Position[] {
  const n = 8 + Math.floor(r() * 17)
  const radius = 5 + r() * 10
  const ring: Position[] = []
  for (let i = 0; i < n; i++) {
    const a = (2 * Math.PI * i) / n
    const rr = radius * (0.8 + r() * 0.4)
    ring.push([Math.round((cx + rr * Math.cos(a)) * 100) / 100, Math.round((cy + rr * Math.sin(a)) * 100) / 100])
  }
  ring.push([ring[0]![0], ring[0]![1]])
  return ring
}

interface Stats {
  n: number
  p50: number
  p95: number
  p99: number
  max: number
  avgRows: number
  truncated: number
}

function stats(lat: number[], rows: number[], truncated: number): Stats {
  const s = [...lat].sort((a, b) => a - b)
  return { n: s.length, p50: quantile(s, 0.5), p95: quantile(s, 0.95), p99: quantile(s, 0.99), max: s[s.length - 1] ?? 0, avgRows: rows.reduce((a, b) => a + b, 0) / (rows.length || 1), truncated }
}

/** "answers that were density grids / queries, average shapes they counted". */
function densityCell(totals: number[], n: number): string {
  return totals.length ? `${totals.length}/${n}, ${fmt(totals.reduce((a, b) => a + b, 0) / totals.length, 0)}` : `0/${n}`
}

export async function run(argv: string[]): Promise<void> {
  const flags = await parseFlags(argv, USAGE, {
    engine: { type: 'string', default: 'postgres', help: 'catalog engine: postgres or sqlite' },
    count: { type: 'string', default: '1000000', help: 'polygons to load on the slide' },
    queries: { type: 'string', default: '50', help: 'viewport queries per zoom level (5 levels)' },
    scales: { type: 'string', default: '1,4,16,64,128', help: 'zoom levels: level-0 pixels per screen pixel' },
    limit: { type: 'string', default: String(VIEWPORT_DEFAULT_LIMIT), help: 'row cap per viewport query' },
    http: { type: 'boolean', default: false, help: 'also time the same queries over HTTP (in-process hub)' },
    compare: { type: 'boolean', default: false, help: 'also time repository-json with density grids off (shapes only, capped at the limit), in the same run' },
    database: { type: 'string', help: 'PostgreSQL database to reuse (created and loaded if empty; kept)' },
    order: { type: 'string', default: 'tiled', help: 'load order: tiled (raster order of 2048-px tiles, as a detection model writes) or random' },
  })
  if (!flags) return
  const engine = flags.engine as string
  if (engine !== 'postgres' && engine !== 'sqlite') throw new Error('--engine is postgres or sqlite')
  const count = num(flags.count, 'count')
  const perScale = num(flags.queries, 'queries')
  const scales = String(flags.scales).split(',').map(Number)
  const limit = num(flags.limit, 'limit')
  console.log(await machineLine())

  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kura-bench-annotations-'))
  const dbName = (flags.database as string | undefined) ?? randomDbName('kura_bench_annot')
  const keepDb = Boolean(flags.database)
  let databaseUrl: string
  if (engine === 'postgres') {
    await createDatabase(dbName, true)
    databaseUrl = pgUrlFor(dbName)
  } else databaseUrl = `sqlite:${path.join(dataDir, 'catalog.sqlite')}`
  const cleanup = async () => {
    if (engine === 'postgres' && !keepDb) await dropDatabase(dbName).catch(() => {})
    rmSync(dataDir, { recursive: true, force: true })
  }
  const unregister = onInterrupt(cleanup)
  let catalog: Catalog | undefined
  try {
    // One connection, so the PostgreSQL backend's CPU time can be read from /proc.
    catalog = await openCatalog(databaseUrl, { poolSize: 1 })
    const db = catalog.db
    await loadShippedVocabularies(db)
    let slideId = (await db.selectFrom('slide').select('id').where('format', '=', 'bench').executeTakeFirst())?.id
    let collectionId: string
    const r = rng(7)
    const cs = clusters(r, 60)
    if (!slideId) {
      collectionId = newId()
      slideId = newId()
      const now = new Date().toISOString()
      await db.insertInto('collection').values({ id: collectionId, name: 'bench-annotations', created_at: now }).execute()
      await db
        .insertInto('slide')
        .values({ id: slideId, collection_id: collectionId, sha256: 'bench', object_key: 'slides/bench', size: 0, format: 'bench', width: SLIDE_W, height: SLIDE_H, levels: '[]', mpp_x: 0.25, mpp_y: 0.25, objective_power: 40, properties: '{}', associated: '[]', created_at: now })
        .execute()
      // Cell centres first, then (with --order tiled) sorted by 2048-px tile in raster order, the order a detection
      // model writes them; --order random interleaves the clusters (worst case for the table's physical locality).
      const cx = new Float64Array(count), cy = new Float64Array(count)
      for (let k = 0; k < count; k++) {
        const c = cs[Math.floor(r() * cs.length)]!
        cx[k] = Math.min(SLIDE_W - 20, Math.max(20, c.x + gauss(r) * c.sigma))
        cy[k] = Math.min(SLIDE_H - 20, Math.max(20, c.y + gauss(r) * c.sigma))
      }
      const order = Array.from({ length: count }, (_, k) => k)
      if (flags.order === 'tiled') {
        const tile = (k: number) => Math.floor(cy[k]! / 2048) * 1000 + Math.floor(cx[k]! / 2048)
        order.sort((a, b) => tile(a) - tile(b) || cy[a]! - cy[b]!)
      }
      const t0 = performance.now()
      const BATCH = 5000
      for (let done = 0; done < count; done += BATCH) {
        const inputs: AnnotationInput[] = []
        for (let i = 0; i < Math.min(BATCH, count - done); i++) {
          const k = order[done + i]!
          inputs.push({
            target: { kind: 'slide', slideId },
            shape: 'polygon',
            geometry: { type: 'Polygon', coordinates: [cell(r, cx[k]!, cy[k]!)] },
            label: { system: 'KURA-HE-TISSUE', code: LABELS[k % LABELS.length]! },
            author: AUTHORS[k % AUTHORS.length]!,
            confidence: k % 4 === 3 ? Math.round(r() * 100) / 100 : null,
            status: 'submitted',
          })
        }
        await createAnnotations(db, collectionId, inputs)
        if ((done / BATCH) % 20 === 0) process.stdout.write(`\r  loaded ${done + inputs.length} / ${count} (${fmt((done + inputs.length) / ((performance.now() - t0) / 1000), 0)}/s)`)
      }
      const loadS = (performance.now() - t0) / 1000
      console.log(`\nloaded ${count} polygons (with revision rows) in ${fmt(loadS)} s: ${fmt(count / loadS, 0)} polygons/s (${engine})`)
      if (engine === 'postgres') {
        const { sql } = await import('kysely')
        await sql`analyze annotation`.execute(db)
      }
    } else {
      collectionId = (await db.selectFrom('slide').select('collection_id').where('id', '=', slideId).executeTakeFirstOrThrow()).collection_id
      console.log(`reusing slide ${slideId} in database ${dbName}`)
    }
    if (engine === 'postgres') {
      // What autovacuum does soon after a load or the density backfill: statistics and the visibility map (the
      // density read is an index-only scan). Run here so a fresh database is timed in its steady state.
      const { sql } = await import('kysely')
      await sql`vacuum (analyze) annotation_density`.execute(db)
    }
    const stored = Number((await db.selectFrom('annotation').select((eb) => eb.fn.countAll().as('n')).where('slide_id', '=', slideId).executeTakeFirstOrThrow()).n)
    console.log(`slide holds ${stored} annotations`)

    // Query plan of a typical zoomed-in and zoomed-out query, so a regression to a sequential scan shows.
    if (engine === 'postgres') {
      const { sql } = await import('kysely')
      for (const [x, y, scale] of [[cs[0]!.x, cs[0]!.y, 1], [cs[0]!.x, cs[0]!.y, 16]] as const) {
        const w = SCREEN_W * scale, h = SCREEN_H * scale
        const tier = scale >= 16 ? sql` and lod_extent >= 16` : sql``
        const plan = await sql<{ 'QUERY PLAN': string }>`explain select * from annotation where box(point(min_x, min_y), point(max_x, max_y)) && box(point(${x - w / 2}, ${y - h / 2}), point(${x + w / 2}, ${y + h / 2})) and slide_id = ${slideId} and lod_extent >= ${scale > 1 ? scale : 0}${tier} limit ${limit + 1}`.execute(db)
        console.log(`plan at scale ${scale}: ${plan.rows.map((p) => p['QUERY PLAN'].trim()).slice(0, 3).join(' | ')}`)
      }
      const gx = Math.floor(cs[0]!.x / 256), gy = Math.floor(cs[0]!.y / 256)
      const dq = densityQuery(db, slideId, 256, [gx - 50, gy - 31, gx + 50, gy + 31]).compile()
      const dplan = await db.executeQuery<{ 'QUERY PLAN': string }>({ ...dq, sql: `explain analyze ${dq.sql}` } as never)
      console.log(`density plan (scale 16, 256-px cells): ${dplan.rows.map((p) => p['QUERY PLAN'].trim()).filter((l) => /Scan|Index Cond|Execution/.test(l)).join(' | ')}`)
    }

    const views: { x: number; y: number; w: number; h: number; scale: number }[][] = scales.map((scale) =>
      Array.from({ length: perScale }, () => {
        const c = cs[Math.floor(r() * cs.length)]!
        const w = SCREEN_W * scale, h = SCREEN_H * scale
        const cx = c.x + gauss(r) * c.sigma, cy = c.y + gauss(r) * c.sigma
        return { x: Math.round(cx - w / 2), y: Math.round(cy - h / 2), w, h, scale }
      }),
    )
    const target = { kind: 'slide' as const, slideId }
    // Wall time is what a user waits; on a machine other work is loading, CPU time (this process's, per query, and
    // the PostgreSQL backend's, averaged from /proc at 10 ms resolution) says what the query itself costs.
    const { sql } = await import('kysely')
    const backendPid = engine === 'postgres' ? Number((await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)).rows[0]!.pid) : process.pid
    const table: string[][] = [['path', 'scale', 'queries', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'avg rows', 'truncated', 'density, avg counted', 'node CPU p95 ms', 'db CPU avg ms']]
    const pathP95: string[] = []
    let allS: Stats | undefined
    const paths: [string, typeof queryViewportJson | typeof queryViewport, boolean][] = [['repository', queryViewport, true], ['repository-json', queryViewportJson, true]]
    if (flags.compare) paths.push(['json, density off', queryViewportJson, false])
    for (const [pathName, query, density] of paths) {
      const all: number[] = [], allCpu: number[] = []
      for (const vs of views) {
        for (const v of vs.slice(0, 5)) await query(db, target, { ...v, density }, {}, limit) // warm-up
        const lat: number[] = [], rows: number[] = [], cpu: number[] = [], grid: number[] = []
        let truncated = 0
        const db0 = engine === 'postgres' ? readCpuSeconds(backendPid) : NaN
        for (const v of vs) {
          const t = performance.now()
          const c0 = process.cpuUsage()
          const res = await query(db, target, { ...v, density }, {}, limit)
          const c = process.cpuUsage(c0)
          lat.push(performance.now() - t)
          cpu.push((c.user + c.system) / 1000)
          rows.push(res.count)
          if (res.truncated) truncated++
          if (res.density) grid.push(res.density.total)
        }
        const dbCpu = engine === 'postgres' ? ((readCpuSeconds(backendPid) - db0) * 1000) / vs.length : NaN
        all.push(...lat)
        allCpu.push(...cpu)
        const s = stats(lat, rows, truncated)
        const cs_ = stats(cpu, [0], 0)
        table.push([pathName, String(vs[0]!.scale), String(s.n), fmt(s.p50), fmt(s.p95), fmt(s.p99), fmt(s.max), fmt(s.avgRows, 0), String(s.truncated), densityCell(grid, s.n), fmt(cs_.p95), engine === 'postgres' ? fmt(dbCpu) : '(in node)'])
      }
      const pathS = stats(all, [0], 0)
      const allC = stats(allCpu, [0], 0)
      table.push([pathName, 'all', String(pathS.n), fmt(pathS.p50), fmt(pathS.p95), fmt(pathS.p99), fmt(pathS.max), '', '', '', fmt(allC.p95), ''])
      allS ??= pathS
      pathP95.push(`${pathName} ${fmt(pathS.p95)} ms`)
    }

    if (flags.http) {
      await catalog.close()
      catalog = undefined
      const config = { host: '127.0.0.1', port: 0, dataDir, databaseUrl, s3: null, oidc: null, tls: null }
      const archive = await openArchive(config as never)
      const app = await buildApp({ archive, config })
      try {
        await app.listen({ host: '127.0.0.1', port: 0 })
        const addr = app.server.address()
        const base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/api/slides/${slideId}/annotations`
        const { token } = await issueAdminToken(archive.catalog.db, 'bench')
        const headers = { authorization: `Bearer ${token}` }
        const allH: number[] = []
        for (const vs of views) {
          const lat: number[] = [], rows: number[] = [], grid: number[] = []
          let truncated = 0
          for (const [i, v] of [...vs.slice(0, 5), ...vs].entries()) {
            const t = performance.now()
            const res = await fetch(`${base}?x=${v.x}&y=${v.y}&w=${v.w}&h=${v.h}&scale=${v.scale}&limit=${limit}`, { headers })
            const body = (await res.json()) as { count: number; truncated: boolean; density?: { total: number } }
            if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${JSON.stringify(body).slice(0, 200)}`)
            if (i < 5) continue
            lat.push(performance.now() - t)
            rows.push(body.count)
            if (body.truncated) truncated++
            if (body.density) grid.push(body.density.total)
          }
          allH.push(...lat)
          const s = stats(lat, rows, truncated)
          table.push(['http', String(vs[0]!.scale), String(s.n), fmt(s.p50), fmt(s.p95), fmt(s.p99), fmt(s.max), fmt(s.avgRows, 0), String(s.truncated), densityCell(grid, s.n), '', ''])
        }
        const h = stats(allH, [0], 0)
        table.push(['http', 'all', String(h.n), fmt(h.p50), fmt(h.p95), fmt(h.p99), fmt(h.max), '', '', '', '', ''])
        pathP95.push(`http ${fmt(h.p95)} ms`)
      } finally {
        await app.close()
        await archive.close()
      }
    }
    printTable(table, `viewport queries, ${stored} polygons on one slide, ${engine}, viewport ${SCREEN_W}×${SCREEN_H} screen px, limit ${limit}; density grids from scale ${DENSITY_MIN_SCALE} when over the limit`)
    console.log(`load average after the run: ${(await import('node:fs')).readFileSync('/proc/loadavg', 'utf8').trim()}`)
    console.log(`target: p95 ≤ 50 ms on PostgreSQL (repository, all zoom levels): ${allS!.p95 <= 50 ? 'met' : 'NOT met'} (${fmt(allS!.p95)} ms, ${engine}; p95 all zoom levels: ${pathP95.join(', ')})`)
  } finally {
    await catalog?.close()
    await cleanup()
    unregister()
  }
}

runIfMain(import.meta.url, run)
