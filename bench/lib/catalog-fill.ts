/**
 * @module Best-effort bulk fill of Kura's PostgreSQL catalog with synthetic rows, to measure
 * searches at a scale (1,000,000 instances) that STOW would take far too long to reach on a small
 * machine. Figures measured on such a catalog must be labelled "SQL-filled".
 *
 * How: one real series already stored through STOW (the one with the most instances) is the
 * template; it is cloned server-side (INSERT … SELECT … generate_series) as many times as needed,
 * each clone with its own subject (random-letter name, its own PatientID), study (own UID and a
 * StudyDate spread over 20 years), series and instances (own UIDs). The DICOM JSON columns get the
 * new UIDs, name, ID and date (jsonb_set; text replacement for the instance rows, for speed);
 * every other column is copied from the template — the
 * object keys too, so a retrieve of a clone returns the template's bytes. Nothing here is an
 * archive anyone could have built through the API: it exists to load the catalog's indexes.
 *
 * It reads the catalog's column lists from information_schema (tables subject, study, series,
 * instance of packages/storage/src/catalog/migrations) and fails loudly when they are missing.
 */
import { nowMs, pgQuery } from './util.ts'

export interface FillResult {
  rows: number
  studies: number
  seconds: number
  templateInstances: number
}

const TABLES = ['subject', 'study', 'series', 'instance'] as const

/** `'ABCDEF'`-style letters from an md5, so names look like names and prefixes are varied. */
const letters = (expr: string, n: number) => `translate(substr(md5(${expr}), 1, ${n}), '0123456789abcdef', 'ABCDEFGHIJKLMNOP')`

export async function scaleKuraCatalogSql(
  databaseUrl: string,
  rows: number,
  o: {
    seed: number
    chunkInstances?: number
    /** Rewrite instance_json with each clone's UIDs (default true); false is faster, clones' metadata then shows the template's UIDs. */
    rewriteInstanceJson?: boolean
    onProgress?: (done: number, total: number) => void
  },
): Promise<FillResult> {
  const t0 = nowMs()
  const cols: Record<string, string[]> = {}
  for (const t of TABLES) {
    const r = await pgQuery<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
      databaseUrl, [t],
    )
    if (!r.length) throw new Error(`--scale-sql: Kura's catalog has no "${t}" table in ${databaseUrl.replace(/:[^:@/]*@/, ':***@')} (has the schema changed?)`)
    cols[t] = r.map((x) => x.column_name)
  }
  const [tmpl] = await pgQuery<{ series_id: string; study_id: string; subject_id: string; n: string }>(
    `SELECT se.id AS series_id, st.id AS study_id, st.subject_id, count(i.id) AS n
       FROM series se JOIN study st ON st.id = se.study_id JOIN instance i ON i.series_id = se.id
      GROUP BY se.id, st.id, st.subject_id ORDER BY count(i.id) DESC, se.id LIMIT 1`,
    databaseUrl,
  )
  if (!tmpl) throw new Error('--scale-sql needs at least one series stored through STOW first (the template)')
  const per = Number(tmpl.n)
  const copies = Math.ceil(rows / per)
  const seed = Math.trunc(o.seed)
  const root = `1.2.826.0.1.3680043.10.1234.${seed}.8`
  const g = 'g::text'
  const id = (kind: string) => `md5('kura-fill-${kind}-${seed}-' || ${g})::uuid::text`
  const name = `(${letters(`'f' || ${g}`, 6)} || '^' || ${letters(`'g' || ${g}`, 4)})`
  const pid = `('FILL${seed}-' || lpad(${g}, 7, '0'))`
  const date = `to_char(date '2005-01-01' + ((g * 7919) % 7300), 'YYYYMMDD')`
  const studyUid = `('${root}.' || ${g})`
  const seriesUid = `('${root}.' || ${g} || '.1')`
  const sopUid = `('${root}.' || ${g} || '.1.' || t.rn)`
  const setJson = (col: string, sets: Array<[string, string]>) =>
    sets.reduce((acc, [tag, value]) => `jsonb_set(${acc}, '{${tag},Value}', ${value}, true)`, `t.${col}::jsonb`) + '::text'
  const pnJson = `jsonb_build_array(jsonb_build_object('Alphabetic', ${name}))`
  const str = (e: string) => `jsonb_build_array(${e})`
  const patientSets: Array<[string, string]> = [['00100010', pnJson], ['00100020', str(pid)]]

  const q = (e: string) => `'"' || ${e} || '"'`
  const textRewrite = `regexp_replace(` +
    [['t.sop_instance_uid', sopUid], ['t.t_series_uid', seriesUid], ['t.t_study_uid', studyUid], ['t.t_patient_id', pid], ['t.t_study_date', date]]
      .reduce((acc, [from, to]) => `replace(${acc}, ${q(from)}, ${q(to)})`, 't.instance_json') +
    `, ${String.raw`'"00100010":\{"vr":"PN","Value":\[\{[^}]*\}\]\}'`}, '"00100010":{"vr":"PN","Value":[{"Alphabetic":"' || ${name} || '"}]}')`
  const overrides: Record<(typeof TABLES)[number], Record<string, string>> = {
    subject: {
      id: id('subject'), patient_id: pid, patient_name: name,
      patient_name_search_alphabetic: name, patient_name_search_ideographic: `''`, patient_name_search_phonetic: `''`,
    },
    study: {
      id: id('study'), subject_id: id('subject'), study_instance_uid: studyUid, study_date: date,
      accession_number: `('F${seed}' || ${g})`,
      study_json: setJson('study_json', [['0020000D', str(studyUid)], ['00080020', str(date)], ...patientSets]),
    },
    series: {
      id: id('series'), study_id: id('study'), series_instance_uid: seriesUid,
      series_json: setJson('series_json', [['0020000E', str(seriesUid)]]),
    },
    instance: {
      id: `md5('kura-fill-instance-${seed}-' || ${g} || '-' || t.rn)::uuid::text`,
      series_id: id('series'), study_id: id('study'), sop_instance_uid: sopUid,
      // Plain text replacement of quoted values: far cheaper than jsonb_set over a million rows.
      ...(o.rewriteInstanceJson === false ? {} : { instance_json: textRewrite }),
    },
  }
  const select = (t: (typeof TABLES)[number]) => cols[t].map((c) => `${overrides[t][c] ?? `t.${c}`} AS ${c}`).join(', ')
  const from: Record<(typeof TABLES)[number], string> = {
    subject: `subject t, {gen} WHERE t.id = $1`,
    study: `study t, {gen} WHERE t.id = $1`,
    series: `series t, {gen} WHERE t.id = $1`,
    instance: `(SELECT i.*, row_number() OVER (ORDER BY i.instance_number NULLS LAST, i.id) AS rn,
                  se.series_instance_uid AS t_series_uid, st.study_instance_uid AS t_study_uid, st.study_date AS t_study_date, sj.patient_id AS t_patient_id
                  FROM instance i JOIN series se ON se.id = i.series_id JOIN study st ON st.id = i.study_id JOIN subject sj ON sj.id = st.subject_id
                 WHERE i.series_id = $1) t, {gen}`,
  }
  // Studies start after the ones a previous fill made (re-running adds more, never collides).
  const [{ n: already }] = await pgQuery<{ n: string }>(`SELECT count(*) AS n FROM study WHERE study_instance_uid LIKE '${root}.%'`, databaseUrl)
  const start = Number(already) + 1
  const chunk = Math.max(1, Math.floor((o.chunkInstances ?? 50_000) / per))
  for (let a = start; a < start + copies; a += chunk) {
    const b = Math.min(start + copies - 1, a + chunk - 1)
    const gen = `generate_series(${a}, ${b}) AS g`
    const param = { subject: tmpl.subject_id, study: tmpl.study_id, series: tmpl.series_id, instance: tmpl.series_id }
    const stmts = TABLES.map((t) => `INSERT INTO ${t} (${cols[t].join(', ')}) SELECT ${select(t)} FROM ${from[t]}`.replace('{gen}', gen))
    const { default: pg } = await import('pg')
    const c = new pg.Client({ connectionString: databaseUrl })
    await c.connect()
    try {
      await c.query('BEGIN')
      for (const [i, s] of stmts.entries()) {
        const ts = nowMs()
        await c.query(s, [param[TABLES[i]]])
        if (process.env.KURA_BENCH_DEBUG) console.error(`\n${TABLES[i]} ${a}-${b}: ${(nowMs() - ts).toFixed(0)} ms`)
      }
      await c.query('COMMIT')
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined)
      throw new Error(`--scale-sql failed: ${(e as Error).message}`)
    } finally {
      await c.end()
    }
    o.onProgress?.((b - start + 1) * per, copies * per)
  }
  await pgQuery('ANALYZE', databaseUrl)
  return { rows: copies * per, studies: copies, seconds: (nowMs() - t0) / 1000, templateInstances: per }
}
