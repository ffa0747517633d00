/**
 * @module Archive repository: reading and deleting catalogued instances (storing is in
 * store-instance.ts, the hot path).
 *
 * Deletes start with the DELETE itself, so on SQLite the write lock is taken first (see
 * store-instance.ts), and maintain counters by decrements, which commute with concurrent
 * stores' increments. A concurrent store into a series being deleted makes one of the two hit
 * a foreign key; that transaction is retried and then sees the other's result.
 */
import { sql, type Kysely, type Transaction } from 'kysely'
import type { Database } from './database.ts'
import { refreshModalities } from './store-instance.ts'
import { withRetry } from './transactions.ts'

type Db = Kysely<Database>
type Trx = Transaction<Database>

export interface InstanceRow {
  id: string
  collection: string
  studyInstanceUid: string
  seriesInstanceUid: string
  sopInstanceUid: string
  sopClassUid: string
  instanceNumber: number | null
  rows: number | null
  columns: number | null
  numberOfFrames: number | null
  transferSyntaxUid: string
  objectKey: string
  /** Null: the object is the instance; else its `size` bytes start here inside the object (a pack). */
  objectOffset: number | null
  sha256: string
  size: number
  instanceJson: string
  createdAt: string
}

export interface StudyRow {
  id: string
  collection: string
  patientId: string
  patientName: string
  patientBirthDate: string
  patientSex: string
  studyInstanceUid: string
  studyDate: string
  studyTime: string
  accessionNumber: string
  studyId: string
  referringPhysicianName: string
  studyDescription: string
  studyJson: string
  /** Distinct modalities of the study's series, sorted, joined by '\'. */
  modalitiesInStudy: string
  numberOfSeries: number
  numberOfInstances: number
  createdAt: string
  updatedAt: string
}

export interface SeriesRow {
  id: string
  collection: string
  studyInstanceUid: string
  seriesInstanceUid: string
  modality: string
  seriesNumber: number | null
  seriesDescription: string
  performedProcedureStepStartDate: string
  performedProcedureStepStartTime: string
  seriesJson: string
  numberOfInstances: number
  createdAt: string
}

// ---------------------------------------------------------------------------------------------
// Read

export async function getInstance(db: Db, sopInstanceUid: string): Promise<InstanceRow | null> {
  const rows = await instanceQuery(db).where('i.sop_instance_uid', '=', sopInstanceUid).execute()
  return rows[0] ? toInstanceRow(rows[0]) : null
}

/**
 * The instances of a study (or of one series, or one instance), ordered by series number then
 * instance number (unnumbered last, UIDs breaking ties). Empty when nothing matches.
 */
export async function listInstances(
  db: Db,
  where: { studyInstanceUid: string; seriesInstanceUid?: string; sopInstanceUid?: string },
): Promise<InstanceRow[]> {
  let q = instanceQuery(db).where('st.study_instance_uid', '=', where.studyInstanceUid)
  if (where.seriesInstanceUid !== undefined) q = q.where('se.series_instance_uid', '=', where.seriesInstanceUid)
  if (where.sopInstanceUid !== undefined) q = q.where('i.sop_instance_uid', '=', where.sopInstanceUid)
  const rows = await q
    .orderBy(sql`se.series_number is null`)
    .orderBy('se.series_number')
    .orderBy('se.series_instance_uid')
    .orderBy(sql`i.instance_number is null`)
    .orderBy('i.instance_number')
    .orderBy('i.sop_instance_uid')
    .execute()
  return rows.map(toInstanceRow)
}

function instanceQuery(db: Db) {
  return db
    .selectFrom('instance as i')
    .innerJoin('series as se', 'se.id', 'i.series_id')
    .innerJoin('study as st', 'st.id', 'i.study_id')
    .innerJoin('collection as c', 'c.id', 'st.collection_id')
    .select([
      'i.id',
      'c.name as collection',
      'st.study_instance_uid',
      'se.series_instance_uid',
      'i.sop_instance_uid',
      'i.sop_class_uid',
      'i.instance_number',
      'i.rows',
      'i.columns',
      'i.number_of_frames',
      'i.transfer_syntax_uid',
      'i.object_key',
      'i.object_offset',
      'i.sha256',
      'i.size',
      'i.instance_json',
      'i.created_at',
    ])
}

type InstanceQueryRow = Awaited<ReturnType<ReturnType<typeof instanceQuery>['execute']>>[number]

function toInstanceRow(r: InstanceQueryRow): InstanceRow {
  return {
    id: r.id,
    collection: r.collection,
    studyInstanceUid: r.study_instance_uid,
    seriesInstanceUid: r.series_instance_uid,
    sopInstanceUid: r.sop_instance_uid,
    sopClassUid: r.sop_class_uid,
    instanceNumber: r.instance_number,
    rows: r.rows,
    columns: r.columns,
    numberOfFrames: r.number_of_frames,
    transferSyntaxUid: r.transfer_syntax_uid,
    objectKey: r.object_key,
    objectOffset: r.object_offset,
    sha256: r.sha256,
    size: r.size,
    instanceJson: r.instance_json,
    createdAt: r.created_at,
  }
}

/**
 * A token that changes whenever anything in the study changes (every store and delete moves
 * its counters and `updated_at`), for validating caches of derived responses. Null: no study.
 */
export async function studyVersion(db: Db, studyInstanceUid: string): Promise<string | null> {
  const r = await db
    .selectFrom('study')
    .select(['id', 'updated_at', 'number_of_instances', 'number_of_series'])
    .where('study_instance_uid', '=', studyInstanceUid)
    .executeTakeFirst()
  return r ? `${r.id}|${r.updated_at}|${r.number_of_instances}|${r.number_of_series}` : null
}

export async function getStudy(db: Db, studyInstanceUid: string): Promise<StudyRow | null> {
  const r = await db
    .selectFrom('study as st')
    .innerJoin('subject as su', 'su.id', 'st.subject_id')
    .innerJoin('collection as c', 'c.id', 'st.collection_id')
    .select([
      'st.id',
      'c.name as collection',
      'su.patient_id',
      'su.patient_name',
      'su.patient_birth_date',
      'su.patient_sex',
      'st.study_instance_uid',
      'st.study_date',
      'st.study_time',
      'st.accession_number',
      'st.study_id',
      'st.referring_physician_name',
      'st.study_description',
      'st.study_json',
      'st.modalities_in_study',
      'st.number_of_series',
      'st.number_of_instances',
      'st.created_at',
      'st.updated_at',
    ])
    .where('st.study_instance_uid', '=', studyInstanceUid)
    .executeTakeFirst()
  if (!r) return null
  return {
    id: r.id,
    collection: r.collection,
    patientId: r.patient_id,
    patientName: r.patient_name,
    patientBirthDate: r.patient_birth_date,
    patientSex: r.patient_sex,
    studyInstanceUid: r.study_instance_uid,
    studyDate: r.study_date,
    studyTime: r.study_time,
    accessionNumber: r.accession_number,
    studyId: r.study_id,
    referringPhysicianName: r.referring_physician_name,
    studyDescription: r.study_description,
    studyJson: r.study_json,
    modalitiesInStudy: r.modalities_in_study,
    numberOfSeries: r.number_of_series,
    numberOfInstances: r.number_of_instances,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }
}

export async function getSeries(db: Db, seriesInstanceUid: string): Promise<SeriesRow | null> {
  const r = await db
    .selectFrom('series as se')
    .innerJoin('study as st', 'st.id', 'se.study_id')
    .innerJoin('collection as c', 'c.id', 'st.collection_id')
    .select([
      'se.id',
      'c.name as collection',
      'st.study_instance_uid',
      'se.series_instance_uid',
      'se.modality',
      'se.series_number',
      'se.series_description',
      'se.performed_procedure_step_start_date',
      'se.performed_procedure_step_start_time',
      'se.series_json',
      'se.number_of_instances',
      'se.created_at',
    ])
    .where('se.series_instance_uid', '=', seriesInstanceUid)
    .executeTakeFirst()
  if (!r) return null
  return {
    id: r.id,
    collection: r.collection,
    studyInstanceUid: r.study_instance_uid,
    seriesInstanceUid: r.series_instance_uid,
    modality: r.modality,
    seriesNumber: r.series_number,
    seriesDescription: r.series_description,
    performedProcedureStepStartDate: r.performed_procedure_step_start_date,
    performedProcedureStepStartTime: r.performed_procedure_step_start_time,
    seriesJson: r.series_json,
    numberOfInstances: r.number_of_instances,
    createdAt: r.created_at,
  }
}

// ---------------------------------------------------------------------------------------------
// Delete

/**
 * Deletes a study's instances, series, the study, and its subject if no other study remains.
 * Returns how many instances went and the object keys no remaining instance refers to: the caller
 * deletes those objects (after this commits, so a crash leaves an orphan object, never a row without
 * its bytes). A pack's key is given back only with the last of its instances.
 */
export async function deleteStudy(db: Db, studyInstanceUid: string): Promise<DeletedInstances> {
  return withRetry(() =>
    db.transaction().execute(async (trx) => {
      const gone = await trx
        .deleteFrom('instance')
        .where('study_id', 'in', (eb) => eb.selectFrom('study').select('id').where('study_instance_uid', '=', studyInstanceUid))
        .returning(['series_id', 'study_id', 'object_key'])
        .execute()
      return afterInstancesDeleted(trx, gone)
    }),
  )
}

export async function deleteSeries(db: Db, studyInstanceUid: string, seriesInstanceUid: string): Promise<DeletedInstances> {
  return withRetry(() =>
    db.transaction().execute(async (trx) => {
      const gone = await trx
        .deleteFrom('instance')
        .where('series_id', 'in', (eb) =>
          eb
            .selectFrom('series as se')
            .innerJoin('study as st', 'st.id', 'se.study_id')
            .select('se.id')
            .where('se.series_instance_uid', '=', seriesInstanceUid)
            .where('st.study_instance_uid', '=', studyInstanceUid),
        )
        .returning(['series_id', 'study_id', 'object_key'])
        .execute()
      return afterInstancesDeleted(trx, gone)
    }),
  )
}

export async function deleteInstance(db: Db, studyInstanceUid: string, seriesInstanceUid: string, sopInstanceUid: string): Promise<DeletedInstances> {
  return withRetry(() =>
    db.transaction().execute(async (trx) => {
      const gone = await trx
        .deleteFrom('instance')
        .where('sop_instance_uid', '=', sopInstanceUid)
        .where('series_id', 'in', (eb) =>
          eb
            .selectFrom('series as se')
            .innerJoin('study as st', 'st.id', 'se.study_id')
            .select('se.id')
            .where('se.series_instance_uid', '=', seriesInstanceUid)
            .where('st.study_instance_uid', '=', studyInstanceUid),
        )
        .returning(['series_id', 'study_id', 'object_key'])
        .execute()
      return afterInstancesDeleted(trx, gone)
    }),
  )
}

export interface DeletedInstances {
  /** Instances removed. */
  instances: number
  /** Object keys no instance refers to any more (a pack's goes with the last instance in it). */
  keys: string[]
}

/** Counts, empty parents and unreferenced objects after instances went. */
async function afterInstancesDeleted(trx: Trx, gone: Array<{ series_id: string; study_id: string; object_key: string }>): Promise<DeletedInstances> {
  if (gone.length === 0) return { instances: 0, keys: [] }
  const now = new Date().toISOString()
  const perSeries = countBy(gone, (g) => g.series_id)
  const perStudy = countBy(gone, (g) => g.study_id)

  for (const [seriesId, n] of perSeries) {
    await trx
      .updateTable('series')
      .set((eb) => ({ number_of_instances: eb('number_of_instances', '-', n) }))
      .where('id', '=', seriesId)
      .execute()
  }
  const emptySeries = await inChunks([...perSeries.keys()], (ids) =>
    trx
      .deleteFrom('series')
      .where('id', 'in', ids)
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('instance').select('instance.id').whereRef('instance.series_id', '=', 'series.id'))))
      .returning(['id', 'study_id'])
      .execute(),
  )
  const seriesGonePerStudy = countBy(emptySeries, (s) => s.study_id)

  for (const [studyId, n] of perStudy) {
    const lostSeries = seriesGonePerStudy.get(studyId) ?? 0
    await trx
      .updateTable('study')
      .set((eb) => ({
        number_of_instances: eb('number_of_instances', '-', n),
        number_of_series: eb('number_of_series', '-', lostSeries),
        updated_at: now,
      }))
      .where('id', '=', studyId)
      .execute()
    if (lostSeries > 0) await refreshModalities(trx, studyId)
  }
  const emptyStudies = await inChunks([...perStudy.keys()], (ids) =>
    trx
      .deleteFrom('study')
      .where('id', 'in', ids)
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('series').select('series.id').whereRef('series.study_id', '=', 'study.id'))))
      .returning('subject_id')
      .execute(),
  )
  const subjects = [...new Set(emptyStudies.map((s) => s.subject_id))]
  if (subjects.length > 0) {
    await inChunks(subjects, (ids) =>
      trx
        .deleteFrom('subject')
        .where('id', 'in', ids)
        .where(({ not, exists, selectFrom }) => not(exists(selectFrom('study').select('study.id').whereRef('study.subject_id', '=', 'subject.id'))))
        .execute(),
    )
  }

  // A pack is shared by the instances of a bundle (and content-addressed keys could be); only give back those nothing uses now.
  const keys = [...new Set(gone.map((g) => g.object_key))]
  const stillUsed = new Set(
    (
      await inChunks(keys, (chunk) => trx.selectFrom('instance').select('object_key').distinct().where('object_key', 'in', chunk).execute())
    ).map((r) => r.object_key),
  )
  return { instances: gone.length, keys: keys.filter((k) => !stillUsed.has(k)) }
}

function countBy<T>(items: T[], key: (t: T) => string): Map<string, number> {
  const m = new Map<string, number>()
  for (const it of items) m.set(key(it), (m.get(key(it)) ?? 0) + 1)
  return m
}

/** Runs `fn` over slices small enough for any engine's bound-parameter limit. */
async function inChunks<T, R>(items: T[], fn: (chunk: T[]) => Promise<R[]>, size = 500): Promise<R[]> {
  const out: R[] = []
  for (let i = 0; i < items.length; i += size) out.push(...(await fn(items.slice(i, i + size))))
  return out
}
