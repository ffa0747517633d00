/**
 * @module The job queue: work that follows a request (building a slide's missing pyramid levels, ...) done by
 * queue workers, never in the request path. A job is a catalog row, so the same queue works on the embedded
 * SQLite catalog (workers in the hub process) and on PostgreSQL with many worker processes: there a claim takes
 * the oldest ready row with `FOR UPDATE SKIP LOCKED`, so two workers never take the same job.
 *
 * A claimed job is leased: its worker extends the lease while it runs, and a job whose worker died is taken again
 * once the lease runs out. A failed job is retried with exponential back-off up to `maxAttempts`, then kept as
 * `failed` with its last error. A `singletonKey` makes enqueueing idempotent: while one job with that key waits or
 * runs, enqueueing another is a no-op.
 */
import { sql, type Kysely } from 'kysely'
import { newId } from '@kura/core'
import type { CatalogEngine } from '../catalog/connect.ts'
import type { Database } from '../catalog/database.ts'
import type { JobState, JobTable } from '../catalog/tables/jobs.ts'

export interface EnqueueOptions {
  /** While a job with this key is queued or active, enqueueing another is a no-op. */
  singletonKey?: string
  /** Default 5. */
  maxAttempts?: number
  /** Not before this many milliseconds from now. */
  delayMs?: number
}

export interface ClaimedJob {
  id: string
  name: string
  payload: unknown
  /** 1 on the first run. */
  attempt: number
  maxAttempts: number
}

export interface JobInfo {
  id: string
  name: string
  state: JobState
  attempts: number
  lastError: string | null
  createdAt: string
  updatedAt: string
}

const iso = (ms: number) => new Date(ms).toISOString()
/** Back-off after the n-th failed attempt: 2 s, 4 s, 8 s, ... capped at 10 minutes. */
export const retryDelayMs = (attempt: number) => Math.min(2000 * 2 ** (attempt - 1), 600_000)

export class JobQueue {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly engine: CatalogEngine,
  ) {}

  /** The new job's id, or null when a job with the same singleton key is already waiting or running. */
  async enqueue(name: string, payload: unknown, opts: EnqueueOptions = {}): Promise<string | null> {
    const now = Date.now()
    const id = newId()
    const r = await this.db
      .insertInto('job')
      .values({
        id,
        name,
        payload: JSON.stringify(payload ?? null),
        singleton_key: opts.singletonKey ?? null,
        state: 'queued',
        attempts: 0,
        max_attempts: opts.maxAttempts ?? 5,
        run_after: iso(now + (opts.delayMs ?? 0)),
        locked_by: null,
        locked_until: null,
        last_error: null,
        created_at: iso(now),
        updated_at: iso(now),
      })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst()
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0 ? id : null
  }

  /**
   * Takes the oldest ready job of one of `names` for `worker`, leased for `leaseMs`: a queued job whose time has
   * come, or an active one whose worker let its lease run out (it died).
   */
  async claim(names: readonly string[], worker: string, leaseMs: number): Promise<ClaimedJob | null> {
    if (names.length === 0) return null
    const now = iso(Date.now())
    const until = iso(Date.now() + leaseMs)
    const ready = sql`name IN (${sql.join(names)}) AND ((state = 'queued' AND run_after <= ${now}) OR (state = 'active' AND locked_until < ${now}))`
    // SQLite has one writer at a time, so the sub-select and update are atomic; PostgreSQL skips rows another worker holds.
    const lock = this.engine === 'postgres' ? sql`FOR UPDATE SKIP LOCKED` : sql``
    const r = await sql<JobTable>`
      UPDATE job SET state = 'active', attempts = attempts + 1, locked_by = ${worker}, locked_until = ${until}, updated_at = ${now}
      WHERE id = (SELECT id FROM job WHERE ${ready} ORDER BY run_after, id LIMIT 1 ${lock})
      RETURNING id, name, payload, attempts, max_attempts`.execute(this.db)
    const row = r.rows[0]
    if (!row) return null
    return { id: row.id, name: row.name, payload: JSON.parse(row.payload), attempt: Number(row.attempts), maxAttempts: Number(row.max_attempts) }
  }

  /** Whether a job of one of `names` is ready to be claimed now. */
  async peekReady(names: readonly string[]): Promise<boolean> {
    if (names.length === 0) return false
    const now = iso(Date.now())
    const r = await this.db
      .selectFrom('job')
      .select('id')
      .where('name', 'in', names)
      .where((eb) => eb.or([eb.and([eb('state', '=', 'queued'), eb('run_after', '<=', now)]), eb.and([eb('state', '=', 'active'), eb('locked_until', '<', now)])]))
      .limit(1)
      .executeTakeFirst()
    return r !== undefined
  }

  /** Keeps the lease of a long job; false when the worker no longer holds it. */
  async extend(id: string, worker: string, leaseMs: number): Promise<boolean> {
    const r = await this.db
      .updateTable('job')
      .set({ locked_until: iso(Date.now() + leaseMs), updated_at: iso(Date.now()) })
      .where('id', '=', id)
      .where('locked_by', '=', worker)
      .where('state', '=', 'active')
      .executeTakeFirst()
    return Number(r.numUpdatedRows) > 0
  }

  async complete(id: string, worker: string): Promise<void> {
    await this.db
      .updateTable('job')
      .set({ state: 'done', locked_by: null, locked_until: null, last_error: null, updated_at: iso(Date.now()) })
      .where('id', '=', id)
      .where('locked_by', '=', worker)
      .execute()
  }

  /** A failed run: queued again after the back-off, or `failed` for good when it may not be retried. */
  async fail(job: ClaimedJob, worker: string, error: string, retryable = true): Promise<'retry' | 'failed'> {
    const again = retryable && job.attempt < job.maxAttempts
    const now = Date.now()
    await this.db
      .updateTable('job')
      .set({
        state: again ? 'queued' : 'failed',
        run_after: iso(now + (again ? retryDelayMs(job.attempt) : 0)),
        locked_by: null,
        locked_until: null,
        last_error: error.slice(0, 2000),
        updated_at: iso(now),
      })
      .where('id', '=', job.id)
      .where('locked_by', '=', worker)
      .execute()
    return again ? 'retry' : 'failed'
  }

  async get(id: string): Promise<JobInfo | null> {
    const r = await this.db.selectFrom('job').selectAll().where('id', '=', id).executeTakeFirst()
    return r ? info(r) : null
  }

  /** The latest job with this singleton key (whatever its state), for status pages. */
  async latest(singletonKey: string): Promise<JobInfo | null> {
    const r = await this.db.selectFrom('job').selectAll().where('singleton_key', '=', singletonKey).orderBy('created_at', 'desc').orderBy('id', 'desc').executeTakeFirst()
    return r ? info(r) : null
  }

  async counts(): Promise<Record<JobState, number>> {
    const rows = await this.db.selectFrom('job').select(['state', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('state').execute()
    const out: Record<JobState, number> = { queued: 0, active: 0, done: 0, failed: 0 }
    for (const r of rows) out[r.state] = Number(r.n)
    return out
  }
}

function info(r: JobTable): JobInfo {
  return { id: r.id, name: r.name, state: r.state, attempts: Number(r.attempts), lastError: r.last_error, createdAt: r.created_at, updatedAt: r.updated_at }
}
