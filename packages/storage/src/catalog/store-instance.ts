/**
 * @module storeInstance: cataloguing one instance — the ingest hot path.
 *
 * Cost here is round trips and commits, not SQL: on a busy host a commit costs tens of system
 * calls on SQLite and a WAL flush on PostgreSQL. So:
 * - Concurrent calls on the same catalog are grouped: while one batch is being written, new
 *   calls queue, and the next batch takes them all (no waiting for a batch to fill). A lone
 *   caller simply gets batches of one.
 * - Almost every instance joins a series that already exists, so a batch first tries one
 *   multi-row INSERT … SELECT that finds each instance's series (checking study, patient and
 *   collection on the way) and inserts in the same statement. On PostgreSQL the counter
 *   updates ride in the same statement (data-modifying CTE): a batch is one round trip and one
 *   commit. Elsewhere the batch, counters and slow path share one transaction.
 * - Only instances that statement did not insert take the slow path: duplicate/conflict checks
 *   and get-or-create of collection, subject, study and series, each by INSERT … ON CONFLICT DO
 *   NOTHING then SELECT, so concurrent writers of the same new study share one row. Each runs
 *   in a savepoint (or its own transaction), so one instance's conflict undoes only its rows.
 *   A batch that opens a series sends its first instance there, then the rest through the
 *   multi-row statement again (storeAll).
 *
 * Every write transaction starts with a write: SQLite then takes its write lock up front
 * (waiting via busy_timeout) instead of failing when a read snapshot goes stale mid-way.
 * Counters change by increments under the row lock, which concurrent writers can apply in any
 * order; the modality list is recomputed only once the study row is locked, so it sees every
 * committed series.
 */
import { sql, type Kysely, type Transaction } from 'kysely'
import { newId } from '@kura/core'
import { CatalogErrors } from '../errors.ts'
import type { InstanceRecord, StoreOutcome } from '../types.ts'
import { capabilitiesOf, type CatalogCapabilities } from './capabilities.ts'
import type { Database } from './database.ts'
import { nameSearchGroups } from './person-name.ts'
import { RollbackWith, rollbackAware, withRetry } from './transactions.ts'

type Db = Kysely<Database>
type Trx = Transaction<Database>

/**
 * Largest batch: 16 parameters a row keeps one statement well under every engine's bound-parameter limit.
 * 128 lets a gateway bundle's group of objects (the hub's ingestMany, 128 at a time) commit as one batch.
 */
const MAX_BATCH = 128

/**
 * Catalogs one instance whose bytes are already in the object store. Never overwrites: an
 * existing SOP Instance UID with the same SHA-256 (and collection) is `duplicate`, anything
 * else about it is `conflict`, as is an instance whose study or series is already catalogued
 * under another patient, collection or study. Inside a caller's transaction it runs in a
 * savepoint of that transaction, unbatched.
 */
export async function storeInstance(db: Db, rec: InstanceRecord): Promise<StoreOutcome> {
  assertStorable(rec)
  if (db.isTransaction) return storeInSavepoint(db as Trx, { rec, instanceId: newId() }, new Date().toISOString())
  let batcher = batchers.get(db)
  if (!batcher) batchers.set(db, (batcher = new StoreBatcher(db, capabilitiesOf(db))))
  return batcher.submit(rec)
}

function assertStorable(rec: InstanceRecord): void {
  const required: Array<[keyof InstanceRecord, string]> = [
    ['collection', 'a collection'],
    ['studyInstanceUid', 'a Study Instance UID'],
    ['seriesInstanceUid', 'a Series Instance UID'],
    ['sopInstanceUid', 'a SOP Instance UID'],
    ['objectKey', 'an object key'],
    ['sha256', 'a SHA-256'],
  ]
  for (const [field, what] of required) if (!rec[field]) throw CatalogErrors.invalidRecord(what)
}

interface Item {
  rec: InstanceRecord
  instanceId: string
}

interface Pending {
  rec: InstanceRecord
  resolve(outcome: StoreOutcome): void
  reject(error: unknown): void
}

const batchers = new WeakMap<object, StoreBatcher>()

/**
 * Groups concurrent storeInstance calls into batches. With one writer (SQLite) one batch runs
 * at a time. With concurrent writers (PostgreSQL) up to four run at once, so their commits
 * share WAL flushes, but never two for the same study: those would only queue on the study's
 * row lock (and could deadlock each other on its series rows).
 */
class StoreBatcher {
  private queue: Pending[] = []
  private scheduled = false
  private inFlight = 0
  private readonly busyStudies = new Set<string>()
  private readonly maxInFlight: number

  constructor(
    private readonly db: Db,
    private readonly caps: CatalogCapabilities,
  ) {
    this.maxInFlight = caps.concurrentWriters ? 4 : 1
  }

  submit(rec: InstanceRecord): Promise<StoreOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ rec, resolve, reject })
      this.schedule()
    })
  }

  /** Starts batches on the next turn, so callers that become ready in this one join them. */
  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      this.startBatches()
    })
  }

  private startBatches(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch: Pending[] = []
      const studies = new Set<string>()
      const rest: Pending[] = []
      for (const p of this.queue) {
        const study = p.rec.studyInstanceUid
        if (batch.length < MAX_BATCH && !this.busyStudies.has(study)) {
          batch.push(p)
          studies.add(study)
        } else {
          rest.push(p)
        }
      }
      if (batch.length === 0) return // everything waits for a study already being written
      this.queue = rest
      for (const s of studies) this.busyStudies.add(s)
      this.inFlight++
      void this.run(batch).finally(() => {
        for (const s of studies) this.busyStudies.delete(s)
        this.inFlight--
        if (this.queue.length > 0) this.schedule()
      })
    }
  }

  private async run(batch: Pending[]): Promise<void> {
    let outcomes: Array<StoreOutcome | { error: unknown }>
    try {
      outcomes = await this.write(batch.map((p) => p.rec))
    } catch (e) {
      outcomes = batch.map(() => ({ error: e }))
    }
    batch.forEach((p, i) => {
      const o = outcomes[i]
      if ('error' in o) p.reject(o.error)
      else p.resolve(o)
    })
  }

  private async write(recs: InstanceRecord[]): Promise<Array<StoreOutcome | { error: unknown }>> {
    try {
      return await withRetry(() => (this.caps.dataModifyingCte ? writeWithCte(this.db, recs) : writeInOneTransaction(this.db, recs)))
    } catch (e) {
      if (recs.length === 1 || !isDataError(e)) throw e
      // One record's data broke the batch statement: redo one by one so only the culprit fails.
      const out: Array<StoreOutcome | { error: unknown }> = []
      for (const rec of recs) {
        try {
          out.push((await this.write([rec]))[0])
        } catch (err) {
          out.push({ error: err })
        }
      }
      return out
    }
  }
}

/**
 * An error caused by the data of some row (PostgreSQL classes 22 and 23, SQLite constraint and
 * type errors), as opposed to the database being busy or unreachable, where retrying each
 * record alone would only wait longer to fail the same way.
 */
function isDataError(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code
  if (typeof code !== 'string') return false
  return /^2[23][0-9A-Z]{3}$/.test(code) || /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE)/.test(code)
}

/** PostgreSQL: the fast path (with counters) is one autocommitted statement; the rest go one transaction each. */
async function writeWithCte(db: Db, recs: InstanceRecord[]): Promise<Array<StoreOutcome | { error: unknown }>> {
  const now = new Date().toISOString()
  const items = recs.map((rec) => ({ rec, instanceId: newId() }))
  return storeAll(
    items,
    async (batch) => {
      const r = await sql<{ id: string }>`
        with ins as (${insertIntoKnownSeries(batch, now)}),
        series_count as (
          update series set number_of_instances = number_of_instances + x.n
          from (select series_id, count(*) as n from ins group by series_id) x
          where series.id = x.series_id returning series.id
        ),
        study_count as (
          update study set number_of_instances = number_of_instances + x.n, updated_at = ${now}
          from (select study_id, count(*) as n from ins group by study_id) x
          where study.id = x.study_id returning study.id
        )
        select id from ins`.execute(db)
      return new Set(r.rows.map((row) => row.id))
    },
    async (item) => {
      try {
        return await withRetry(() => rollbackAware(() => db.transaction().execute((trx) => storeSlow(trx, item, now))))
      } catch (e) {
        return { error: e }
      }
    },
  )
}

/** Everywhere else: fast path, counters and the slow path (each in a savepoint) in one transaction, one commit. */
async function writeInOneTransaction(db: Db, recs: InstanceRecord[]): Promise<Array<StoreOutcome | { error: unknown }>> {
  return db.transaction().execute(async (trx) => {
    const now = new Date().toISOString()
    const items = recs.map((rec) => ({ rec, instanceId: newId() }))
    return storeAll(
      items,
      async (batch) => {
        // A write first (see module comment).
        const r = await insertIntoKnownSeries(batch, now).execute(trx)
        const perSeries = new Map<string, number>()
        const perStudy = new Map<string, number>()
        for (const row of r.rows) {
          perSeries.set(row.series_id, (perSeries.get(row.series_id) ?? 0) + 1)
          perStudy.set(row.study_id, (perStudy.get(row.study_id) ?? 0) + 1)
        }
        // One statement per table however many series and studies the batch touched.
        if (perSeries.size > 0) {
          await sql`update series set number_of_instances = number_of_instances + ${increments(perSeries)}
            where id in (${sql.join([...perSeries.keys()])})`.execute(trx)
          await sql`update study set number_of_instances = number_of_instances + ${increments(perStudy)}, updated_at = ${now}
            where id in (${sql.join([...perStudy.keys()])})`.execute(trx)
        }
        return new Set(r.rows.map((row) => row.id))
      },
      (item) => storeInSavepoint(trx, item, now),
    )
  })
}

/**
 * The batch through the fast path (`fast` answers the instance ids it stored), and what it did not store
 * through the slow path. A batch that opens a series (a gateway's first bundle of it, or a STOW of a new
 * study) would take the slow path for every instance, about eight statements each: so the slow path first
 * takes only the first instance of each series, which creates it, and the fast path then takes the rest.
 */
async function storeAll(
  items: Item[],
  fast: (batch: Item[]) => Promise<Set<string>>,
  slow: (item: Item) => Promise<StoreOutcome | { error: unknown }>,
): Promise<Array<StoreOutcome | { error: unknown }>> {
  const out = new Map<Item, StoreOutcome | { error: unknown }>()
  const notStored = async (batch: Item[]) => {
    const stored = await fast(batch)
    for (const item of batch) if (stored.has(item.instanceId)) out.set(item, { status: 'stored', instanceId: item.instanceId })
    return batch.filter((item) => !out.has(item))
  }
  let rest = await notStored(items)
  if (rest.length > 1) {
    const opened = new Set<string>()
    const firsts = rest.filter(({ rec }) => !opened.has(rec.seriesInstanceUid) && opened.add(rec.seriesInstanceUid) !== undefined)
    for (const item of firsts) out.set(item, await slow(item))
    const others = rest.filter((item) => !out.has(item))
    rest = others.length > 0 ? await notStored(others) : []
  }
  for (const item of rest) out.set(item, await slow(item))
  return items.map((item) => out.get(item)!)
}

/** `case id when … then n … end`: each row's own increment, in one UPDATE. */
function increments(counts: Map<string, number>) {
  return sql`case id ${sql.join(
    [...counts].map(([id, n]) => sql`when ${id} then cast(${n} as integer)`),
    sql` `,
  )} end`
}

/** The slow path inside a savepoint: a conflict or error rolls back this instance's rows only. */
async function storeInSavepoint(trx: Trx, item: Item, now: string): Promise<StoreOutcome> {
  // One name for every instance: the statements stay in the prepared-statement cache (a numbered name per call
  // prepared three new statements an instance and pushed the batch INSERTs out). Calls in one transaction run one
  // at a time, as they must whatever the names: a release also releases every savepoint taken after it.
  const name = sql.id('store_instance')
  await sql`savepoint ${name}`.execute(trx)
  try {
    const outcome = await storeSlow(trx, item, now)
    await sql`release savepoint ${name}`.execute(trx)
    return outcome
  } catch (e) {
    await sql`rollback to savepoint ${name}`.execute(trx)
    await sql`release savepoint ${name}`.execute(trx)
    if (e instanceof RollbackWith) return e.result as StoreOutcome
    throw e
  }
}

/**
 * Multi-row INSERT … SELECT into each instance's series, where that series exists under the
 * same study, patient and collection. VALUES columns are column1…N on both engines; casts give
 * PostgreSQL the types of otherwise untyped parameters.
 */
function insertIntoKnownSeries(items: Item[], now: string) {
  // A SOP Instance UID twice in one batch: only the first is offered here, so it is the one stored on every
  // engine (PostgreSQL inserts VALUES rows in no set order); the later one takes the slow path and is judged against it.
  const seen = new Set<string>()
  const firsts = items.filter(({ rec }) => !seen.has(rec.sopInstanceUid) && seen.add(rec.sopInstanceUid) !== undefined)
  const rows = firsts.map(
    ({ rec, instanceId }) => sql`(${instanceId}, ${rec.sopInstanceUid}, ${rec.sopClassUid}, cast(${rec.instanceNumber} as integer),
      cast(${rec.rows} as integer), cast(${rec.columns} as integer), cast(${rec.numberOfFrames} as integer), ${rec.transferSyntaxUid},
      ${rec.objectKey}, ${rec.sha256}, cast(${rec.size} as bigint), ${rec.instanceJson}, ${rec.seriesInstanceUid},
      ${rec.studyInstanceUid}, ${rec.patientId}, ${rec.collection}, cast(${rec.objectOffset ?? null} as bigint))`,
  )
  return sql<{ id: string; series_id: string; study_id: string }>`
    insert into instance (id, series_id, study_id, sop_instance_uid, sop_class_uid, instance_number, "rows", "columns",
      number_of_frames, transfer_syntax_uid, object_key, sha256, "size", instance_json, created_at, object_offset)
    select v.column1, se.id, se.study_id, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7, v.column8,
      v.column9, v.column10, v.column11, v.column12, ${now}, v.column17
    from (values ${sql.join(rows)}) as v
    join series se on se.series_instance_uid = v.column13
    join study st on st.id = se.study_id and st.study_instance_uid = v.column14
    join subject su on su.id = st.subject_id and su.patient_id = v.column15
    join collection c on c.id = su.collection_id and c.name = v.column16
    where true
    on conflict (sop_instance_uid) do nothing
    returning id, series_id, study_id`
}

async function storeSlow(trx: Trx, { rec, instanceId }: Item, now: string): Promise<StoreOutcome> {
  // Nothing has been written for this instance yet, so these early answers leave no trace.
  const existing = await findStoredInstance(trx, rec.sopInstanceUid)
  if (existing) return judgeExisting(existing, rec)

  const study = await trx
    .selectFrom('study as st')
    .innerJoin('subject as su', 'su.id', 'st.subject_id')
    .innerJoin('collection as c', 'c.id', 'st.collection_id')
    .select(['st.id', 'su.patient_id', 'c.name as collection'])
    .where('st.study_instance_uid', '=', rec.studyInstanceUid)
    .executeTakeFirst()
  if (study && (study.collection !== rec.collection || study.patient_id !== rec.patientId)) return studyElsewhere(rec)

  let studyId: string
  if (study) {
    studyId = study.id
  } else {
    const collectionId = await ensureCollection(trx, rec.collection, now)
    const subjectId = await ensureSubject(trx, collectionId, rec, now)
    studyId = await ensureStudy(trx, collectionId, subjectId, rec, now)
  }

  const { seriesId, created: newSeries } = await ensureSeries(trx, studyId, rec, now)

  const inserted = await trx
    .insertInto('instance')
    .values({
      id: instanceId,
      series_id: seriesId,
      study_id: studyId,
      sop_instance_uid: rec.sopInstanceUid,
      sop_class_uid: rec.sopClassUid,
      instance_number: rec.instanceNumber,
      rows: rec.rows,
      columns: rec.columns,
      number_of_frames: rec.numberOfFrames,
      transfer_syntax_uid: rec.transferSyntaxUid,
      object_key: rec.objectKey,
      object_offset: rec.objectOffset ?? null,
      sha256: rec.sha256,
      size: rec.size,
      instance_json: rec.instanceJson,
      created_at: now,
    })
    .onConflict((oc) => oc.column('sop_instance_uid').doNothing())
    .returning('id')
    .executeTakeFirst()
  if (!inserted) {
    // Another writer stored this SOP Instance UID since our check: undo the parents we may have made.
    const winner = await findStoredInstance(trx, rec.sopInstanceUid)
    throw new RollbackWith(winner ? judgeExisting(winner, rec) : conflict(`SOP Instance UID ${rec.sopInstanceUid} was being stored concurrently; send it again.`))
  }
  await countNewInstance(trx, seriesId, studyId, newSeries, now)
  return { status: 'stored', instanceId }
}

async function findStoredInstance(db: Db | Trx, sopInstanceUid: string) {
  return db
    .selectFrom('instance as i')
    .innerJoin('study as st', 'st.id', 'i.study_id')
    .innerJoin('collection as c', 'c.id', 'st.collection_id')
    .select(['i.id', 'i.sha256', 'c.name as collection'])
    .where('i.sop_instance_uid', '=', sopInstanceUid)
    .executeTakeFirst()
}

function judgeExisting(existing: { id: string; sha256: string; collection: string }, rec: InstanceRecord): StoreOutcome {
  if (existing.sha256 === rec.sha256 && existing.collection === rec.collection) return { status: 'duplicate', instanceId: existing.id }
  if (existing.sha256 === rec.sha256) {
    return conflict(`SOP Instance UID ${rec.sopInstanceUid} is already stored in another collection; an instance can be in one collection only.`)
  }
  return conflict(
    `SOP Instance UID ${rec.sopInstanceUid} is already stored with different content; stored instances are never overwritten. ` +
      'Delete the stored instance first, or give the new object its own SOP Instance UID.',
  )
}

function studyElsewhere(rec: InstanceRecord): StoreOutcome {
  return conflict(
    `Study ${rec.studyInstanceUid} is already stored for a different patient or collection, so this instance ` +
      `(PatientID "${rec.patientId}", collection "${rec.collection}") cannot join it. Check the instance's patient attributes, ` +
      'or delete the stored study first.',
  )
}

function conflict(reason: string): StoreOutcome {
  return { status: 'conflict', reason }
}

async function ensureCollection(trx: Trx, name: string, now: string): Promise<string> {
  const found = await trx.selectFrom('collection').select('id').where('name', '=', name).executeTakeFirst()
  if (found) return found.id
  const made = await trx
    .insertInto('collection')
    .values({ id: newId(), name, created_at: now })
    .onConflict((oc) => oc.column('name').doNothing())
    .returning('id')
    .executeTakeFirst()
  if (made) return made.id
  return (await trx.selectFrom('collection').select('id').where('name', '=', name).executeTakeFirstOrThrow()).id
}

async function ensureSubject(trx: Trx, collectionId: string, rec: InstanceRecord, now: string): Promise<string> {
  const find = () =>
    trx.selectFrom('subject').select('id').where('collection_id', '=', collectionId).where('patient_id', '=', rec.patientId).executeTakeFirst()
  const found = await find()
  if (found) return found.id
  const [alphabetic, ideographic, phonetic] = nameSearchGroups(rec.patientName)
  const made = await trx
    .insertInto('subject')
    .values({
      id: newId(),
      collection_id: collectionId,
      patient_id: rec.patientId,
      patient_name: rec.patientName,
      patient_name_search_alphabetic: alphabetic,
      patient_name_search_ideographic: ideographic,
      patient_name_search_phonetic: phonetic,
      patient_birth_date: rec.patientBirthDate,
      patient_sex: rec.patientSex,
      created_at: now,
    })
    .onConflict((oc) => oc.columns(['collection_id', 'patient_id']).doNothing())
    .returning('id')
    .executeTakeFirst()
  return made ? made.id : (await find())!.id
}

async function ensureStudy(trx: Trx, collectionId: string, subjectId: string, rec: InstanceRecord, now: string): Promise<string> {
  const [alphabetic, ideographic, phonetic] = nameSearchGroups(rec.referringPhysicianName)
  const made = await trx
    .insertInto('study')
    .values({
      id: newId(),
      subject_id: subjectId,
      collection_id: collectionId,
      study_instance_uid: rec.studyInstanceUid,
      study_date: rec.studyDate,
      study_time: rec.studyTime,
      accession_number: rec.accessionNumber,
      study_id: rec.studyId,
      referring_physician_name: rec.referringPhysicianName,
      referring_physician_name_search_alphabetic: alphabetic,
      referring_physician_name_search_ideographic: ideographic,
      referring_physician_name_search_phonetic: phonetic,
      study_description: rec.studyDescription,
      study_json: rec.studyJson,
      created_at: now,
      updated_at: now,
    })
    .onConflict((oc) => oc.column('study_instance_uid').doNothing())
    .returning('id')
    .executeTakeFirst()
  if (made) return made.id
  // A concurrent writer created it first (PostgreSQL waited for its commit): join it if it is the same patient.
  const winner = await trx.selectFrom('study').select(['id', 'subject_id']).where('study_instance_uid', '=', rec.studyInstanceUid).executeTakeFirstOrThrow()
  if (winner.subject_id !== subjectId) throw new RollbackWith(studyElsewhere(rec))
  return winner.id
}

async function ensureSeries(trx: Trx, studyId: string, rec: InstanceRecord, now: string): Promise<{ seriesId: string; created: boolean }> {
  const found = await trx.selectFrom('series').select(['id', 'study_id']).where('series_instance_uid', '=', rec.seriesInstanceUid).executeTakeFirst()
  if (!found) {
    const made = await trx
      .insertInto('series')
      .values({
        id: newId(),
        study_id: studyId,
        series_instance_uid: rec.seriesInstanceUid,
        modality: rec.modality,
        series_number: rec.seriesNumber,
        series_description: rec.seriesDescription,
        performed_procedure_step_start_date: rec.performedProcedureStepStartDate,
        performed_procedure_step_start_time: rec.performedProcedureStepStartTime,
        series_json: rec.seriesJson,
        created_at: now,
      })
      .onConflict((oc) => oc.column('series_instance_uid').doNothing())
      .returning('id')
      .executeTakeFirst()
    if (made) return { seriesId: made.id, created: true }
  }
  const series = found ?? (await trx.selectFrom('series').select(['id', 'study_id']).where('series_instance_uid', '=', rec.seriesInstanceUid).executeTakeFirstOrThrow())
  if (series.study_id !== studyId) {
    throw new RollbackWith(
      conflict(`Series ${rec.seriesInstanceUid} already belongs to another study, so it cannot be part of study ${rec.studyInstanceUid}. Check the instance's UIDs.`),
    )
  }
  return { seriesId: series.id, created: false }
}

async function countNewInstance(trx: Trx, seriesId: string, studyId: string, newSeries: boolean, now: string): Promise<void> {
  await trx
    .updateTable('series')
    .set((eb) => ({ number_of_instances: eb('number_of_instances', '+', 1) }))
    .where('id', '=', seriesId)
    .execute()
  await trx
    .updateTable('study')
    .set((eb) => ({
      number_of_instances: eb('number_of_instances', '+', 1),
      number_of_series: eb('number_of_series', '+', newSeries ? 1 : 0),
      updated_at: now,
    }))
    .where('id', '=', studyId)
    .execute()
  // The study row is locked now, so this read sees every committed series of the study.
  if (newSeries) await refreshModalities(trx, studyId)
}

/** Recomputes a study's sorted, '\'-joined modality list; call with the study row already locked. */
export async function refreshModalities(trx: Trx, studyId: string): Promise<void> {
  const rows = await trx.selectFrom('series').select('modality').distinct().where('study_id', '=', studyId).execute()
  const modalities = rows
    .map((r) => r.modality)
    .filter((m) => m !== '')
    .sort()
    .join('\\')
  await trx.updateTable('study').set({ modalities_in_study: modalities }).where('id', '=', studyId).execute()
}
