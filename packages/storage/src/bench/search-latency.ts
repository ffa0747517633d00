/**
 * @module Bench: study-search latency on PostgreSQL with a million instances.
 *
 * Usage: npx tsx packages/storage/src/bench/search-latency.ts [studies=50000] [seriesPerStudy=4] [instancesPerSeries=5]
 * Fills a fresh schema straight from SQL (generate_series; storeInstance would take far too
 * long for a million rows), analyses it, then runs typical QIDO study searches through
 * `search()` — so timings include the driver and the round trip — and prints p50/p95 per
 * query plus the plan's top node and the indexes it uses (EXPLAIN).
 */
import { sql } from 'kysely'
import { openCatalog } from '../catalog/connect.ts'
import { search, searchQuery } from '../catalog/search.ts'
import { createTestDatabase } from '../testing/index.ts'
import type { Match, SearchRequest } from '../types.ts'

const studies = Number(process.argv[2] ?? 50_000)
const seriesPerStudy = Number(process.argv[3] ?? 4)
const perSeries = Number(process.argv[4] ?? 5)
const subjects = Math.max(1, Math.floor(studies / 2))
const series = studies * seriesPerStudy
const instances = series * perSeries

const tdb = await createTestDatabase('postgres')
const catalog = await openCatalog(tdb.databaseUrl)
const db = catalog.db
try {
  const t0 = performance.now()
  const now = '2026-01-01T00:00:00.000Z'
  await sql`insert into collection (id, name, created_at) select 'col-' || g, 'collection' || g, ${now} from generate_series(1, 5) g`.execute(db)
  await sql`
    insert into subject (id, collection_id, patient_id, patient_name, patient_name_search_alphabetic, patient_name_search_ideographic,
      patient_name_search_phonetic, patient_birth_date, patient_sex, created_at)
    select 'sub-' || g, 'col-' || (g % 5 + 1), 'PID' || g, n || '^' || f, n || '^' || f, '', '',
      to_char(date '1940-01-01' + (g * 7 % 25000), 'YYYYMMDD'), case when g % 2 = 0 then 'F' else 'M' end, ${now}
    from (select g, upper(substr(md5(g::text), 1, 6)) as n, upper(substr(md5((g + 1)::text), 1, 4)) as f
          from generate_series(1, ${subjects}) g) s`.execute(db)
  await sql`
    insert into study (id, subject_id, collection_id, study_instance_uid, study_date, study_time, accession_number, study_id,
      referring_physician_name, referring_physician_name_search_alphabetic, referring_physician_name_search_ideographic,
      referring_physician_name_search_phonetic, study_description, study_json, modalities_in_study, number_of_series,
      number_of_instances, created_at, updated_at)
    select 'st-' || g, 'sub-' || s, 'col-' || (s % 5 + 1), '1.2.826.0.1.' || g, to_char(date '2015-01-01' + (g % 3650), 'YYYYMMDD'),
      lpad((g * 37 % 235959)::text, 6, '0'), 'ACC' || g, 'S' || g, 'DOC' || (g % 300) || '^A', 'DOC' || (g % 300) || '^A', '', '',
      (array['CT CHEST', 'MR BRAIN', 'CR THORAX', 'US ABDOMEN', 'PT WHOLE BODY'])[g % 5 + 1],
      '{"0020000D":{"vr":"UI","Value":["1.2.826.0.1.' || g || '"]},"00100010":{"vr":"PN","Value":[{"Alphabetic":"X"}]}}',
      '', ${seriesPerStudy}, ${seriesPerStudy * perSeries}, ${now}, ${now}
    from (select g, (g - 1) % ${subjects} + 1 as s from generate_series(1, ${studies}) g) x`.execute(db)
  await sql`
    insert into series (id, study_id, series_instance_uid, modality, series_number, series_description,
      performed_procedure_step_start_date, performed_procedure_step_start_time, series_json, number_of_instances, created_at)
    select 'se-' || g, 'st-' || ((g - 1) / ${seriesPerStudy} + 1), '1.2.826.0.2.' || g,
      (array['CT', 'CT', 'MR', 'SR', 'CR', 'US', 'PT', 'CT', 'MR', 'KO'])[g % 10 + 1], (g - 1) % ${seriesPerStudy} + 1, 'SERIES ' || g,
      '', '', '{"0020000E":{"vr":"UI","Value":["1.2.826.0.2.' || g || '"]}}', ${perSeries}, ${now}
    from generate_series(1, ${series}) g`.execute(db)
  await sql`
    insert into instance (id, series_id, study_id, sop_instance_uid, sop_class_uid, instance_number, "rows", "columns",
      number_of_frames, transfer_syntax_uid, object_key, sha256, "size", instance_json, created_at)
    select 'in-' || g, 'se-' || se, 'st-' || ((se - 1) / ${seriesPerStudy} + 1), '1.2.826.0.3.' || g, '1.2.840.10008.5.1.4.1.1.2',
      (g - 1) % ${perSeries} + 1, 512, 512, null, '1.2.840.10008.1.2.1', 'dicom/' || md5(g::text), md5(g::text) || md5(g::text),
      524288, '{"00080018":{"vr":"UI","Value":["1.2.826.0.3.' || g || '"]}}', ${now}
    from (select g, (g - 1) / ${perSeries} + 1 as se from generate_series(1, ${instances}) g) x`.execute(db)
  await sql`
    update study st set modalities_in_study = m.mods
    from (select study_id, string_agg(distinct modality, '\\' order by modality) as mods from series group by study_id) m
    where m.study_id = st.id`.execute(db)
  await sql`analyze`.execute(db)
  console.log(`filled ${studies} studies, ${series} series, ${instances} instances in ${((performance.now() - t0) / 1000).toFixed(0)} s`)

  const one = (value: string): Match => ({ kind: 'single', value })
  const queries: Array<[string, (i: number) => Omit<SearchRequest, 'level' | 'offset'> & { offset?: number }]> = [
    ['all studies, first page of 100', () => ({ where: {}, limit: 100 })],
    ['one collection, first page', (i) => ({ where: {}, collections: [`collection${(i % 5) + 1}`], limit: 100 })],
    ['PatientID exact', (i) => ({ where: { PatientID: one(`PID${(i * 7919) % subjects}`) }, limit: 100 })],
    ['PatientName prefix (3 chars)', (i) => ({ where: { PatientName: { kind: 'person-name', pattern: `${hex3(i)}*` } }, limit: 100 })],
    ['StudyInstanceUID exact', (i) => ({ where: { StudyInstanceUID: one(`1.2.826.0.1.${(i * 104729) % studies}`) }, limit: 100 })],
    ['AccessionNumber exact', (i) => ({ where: { AccessionNumber: one(`ACC${(i * 7907) % studies}`) }, limit: 100 })],
    ['StudyDate one month', (i) => ({ where: { StudyDate: { kind: 'range', from: `2019${pad2((i % 12) + 1)}01`, to: `2019${pad2((i % 12) + 1)}31` } }, limit: 100 })],
    ['StudyDate single day', (i) => ({ where: { StudyDate: one(`2020${pad2((i % 12) + 1)}15`) }, limit: 100 })],
    ['ModalitiesInStudy=MR', () => ({ where: { ModalitiesInStudy: one('MR') }, limit: 100 })],
    ['ModalitiesInStudy=KO, 2019', () => ({ where: { ModalitiesInStudy: one('KO'), StudyDate: { kind: 'range', from: '20190101', to: '20191231' } }, limit: 100 })],
    ['StudyDescription prefix', () => ({ where: { StudyDescription: { kind: 'wildcard', pattern: 'MR*' } }, limit: 100 })],
    ['ReferringPhysicianName prefix', (i) => ({ where: { ReferringPhysicianName: { kind: 'person-name', pattern: `DOC${i % 300}^*` } }, limit: 100 })],
    ['PatientName prefix + date range', (i) => ({ where: { PatientName: { kind: 'person-name', pattern: `${hex3(i).slice(0, 2)}*` }, StudyDate: { kind: 'range', from: '20200101' } }, limit: 100 })],
    ['all studies, page at offset 1000', () => ({ where: {}, limit: 100, offset: 1000 })],
  ]
  const runs = 60
  for (const [name, make] of queries) {
    const times: number[] = []
    let rows = 0
    for (let i = 0; i < runs; i++) {
      const q = make(i)
      const t = performance.now()
      const r = await search(db, { level: 'study', offset: 0, ...q })
      times.push(performance.now() - t)
      rows += r.rows.length
    }
    times.sort((a, b) => a - b)
    const p = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(1)
    const plan = await explain(make(1))
    console.log(`${name.padEnd(34)} p50 ${p(0.5).padStart(6)} ms  p95 ${p(0.95).padStart(6)} ms  rows/query ${(rows / runs).toFixed(0).padStart(3)}  ${plan}`)
  }
} finally {
  await catalog.close()
  await tdb.cleanup()
}

function hex3(i: number): string {
  return ((i * 2654435761) >>> 0).toString(16).toUpperCase().padStart(8, '0').slice(0, 3)
}
function pad2(n: number): string {
  return String(n).padStart(2, '0')
}

/** EXPLAIN ANALYZE of the exact SQL search() runs, bound values included (a custom plan, as the driver gets). */
async function explain(q: Omit<SearchRequest, 'level' | 'offset'> & { offset?: number }): Promise<string> {
  const query = await searchQuery(db, { level: 'study', offset: 0, ...q })
  if (!query) return '(no query)'
  const compiled = query.compile(db)
  const r = await sql<{ 'QUERY PLAN': string }>`explain (analyze, costs off) ${sql.raw(inline(compiled.sql, compiled.parameters))}`.execute(db)
  const lines = r.rows.map((x) => x['QUERY PLAN'])
  const indexes = [...new Set(lines.flatMap((l) => [...l.matchAll(/(?:Index|Index Only) Scan(?: Backward)? using (\S+)|Bitmap Index Scan on (\S+)/g)].map((m) => m[1] ?? m[2])))]
  const seq = lines.filter((l) => /Seq Scan on (\w+)/.test(l)).map((l) => l.match(/Seq Scan on (\w+)/)![1])
  const exec = lines.find((l) => l.startsWith('Execution Time'))
  return `[${exec}; indexes: ${indexes.join(', ') || 'none'}${seq.length ? `; seq scan: ${seq.join(', ')}` : ''}]`
}

/** Inlines bound parameters as literals so EXPLAIN plans exactly what the driver's custom plan would. */
function inline(text: string, params: readonly unknown[]): string {
  return text.replace(/\$(\d+)/g, (_, n) => {
    const v = params[Number(n) - 1]
    return typeof v === 'number' ? String(v) : `'${String(v).replace(/'/g, "''")}'`
  })
}
