/**
 * @module The audit log: append-only, hash-chained events of every read and change of
 * patient-derived data and of every access-control change.
 *
 * Appends are group-committed: callers await `record`, events that arrive while a batch is
 * being written form the next batch, and each batch is one transaction that takes the chain's
 * lock (PostgreSQL: a table lock, so several hub processes append in turn; SQLite: the write
 * lock, by BEGIN IMMEDIATE), reads the head and inserts its rows. The hub awaits the
 * event before sending a response, so nothing is served that is not on record.
 */
import { sql, type Kysely, type Selectable } from 'kysely'
import { CHAIN_GENESIS, canonicalJson, chainHash, type Logger } from '@kura/core'
import type { AuditEventTable, Database } from '@kura/storage'

type Db = Kysely<Database>
export type AuditRow = Selectable<AuditEventTable>

export type Outcome = 'success' | 'denied' | 'error'

export interface AuditEvent {
  actor: string
  actorKind: 'user' | 'token' | 'anonymous' | 'system'
  action: string
  resource: string
  collection?: string
  ip?: string
  outcome: Outcome
  status: number
  detail?: Record<string, unknown>
}

export interface AuditView {
  seq: number
  at: string
  actor: string
  actorKind: string
  action: string
  resource: string
  collection: string
  ip: string
  outcome: string
  status: number
  detail: Record<string, unknown>
  hash: string
}

const MAX_BATCH = 500

/** What the hash covers: every column but the links themselves. */
export function hashedBody(r: Omit<AuditRow, 'prev_hash' | 'hash'>): Record<string, unknown> {
  return { seq: Number(r.seq), at: r.at, actor: r.actor, actorKind: r.actor_kind, action: r.action, resource: r.resource, collection: r.collection, ip: r.ip, outcome: r.outcome, status: r.status, detail: r.detail }
}

export class AuditLog {
  private queue: Array<{ event: AuditEvent; at: string; done: (e?: unknown) => void }> = []
  private writing: Promise<void> | null = null

  constructor(
    private readonly db: Db,
    private readonly engine: 'sqlite' | 'postgres',
    private readonly log?: Logger,
  ) {}

  /** Appends one event; resolves once it is committed. */
  record(event: AuditEvent): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ event, at: new Date().toISOString(), done: (e) => (e ? reject(e) : resolve()) })
      this.writing ??= this.drain()
    })
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, MAX_BATCH)
        try {
          await this.write(batch)
          for (const b of batch) b.done()
        } catch (e) {
          this.log?.error({ err: (e as Error).message, events: batch.length }, 'audit events could not be written')
          for (const b of batch) b.done(e)
        }
      }
    } finally {
      this.writing = null
    }
  }

  /**
   * One transaction per batch, in plain SQL on one connection: this runs once per audited
   * request, and the query builder's per-call work measured as much as the SQL itself.
   */
  private async write(batch: Array<{ event: AuditEvent; at: string }>): Promise<void> {
    await this.db.connection().execute(async (conn) => {
      // SQLite: take the write lock up front, so a concurrent writer makes us wait, not fail.
      await sql.raw(this.engine === 'postgres' ? 'begin' : 'begin immediate').execute(conn)
      try {
        if (this.engine === 'postgres') await sql`lock table audit_event in share row exclusive mode`.execute(conn)
        const head = (await sql<{ seq: number; hash: string }>`select seq, hash from audit_event order by seq desc limit 1`.execute(conn)).rows[0]
        let seq = head ? Number(head.seq) : 0
        let prev = head?.hash ?? CHAIN_GENESIS
        const values = batch.map(({ event: e, at }) => {
          seq += 1
          const body = {
            seq,
            at,
            actor: e.actor,
            actor_kind: e.actorKind,
            action: e.action,
            resource: e.resource,
            collection: e.collection ?? '',
            ip: e.ip ?? '',
            outcome: e.outcome,
            status: e.status,
            detail: canonicalJson(e.detail ?? {}),
          }
          const hash = chainHash(prev, hashedBody(body))
          const row = sql`(${seq}, ${at}, ${body.actor}, ${body.actor_kind}, ${body.action}, ${body.resource}, ${body.collection}, ${body.ip}, ${body.outcome}, ${body.status}, ${body.detail}, ${prev}, ${hash})`
          prev = hash
          return row
        })
        await sql`insert into audit_event (seq, at, actor, actor_kind, action, resource, collection, ip, outcome, status, detail, prev_hash, hash) values ${sql.join(values)}`.execute(conn)
        await sql.raw('commit').execute(conn)
      } catch (e) {
        await sql.raw('rollback').execute(conn).catch(() => {})
        throw e
      }
    })
  }

  /** Waits for events already handed in (before closing the catalog). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing
  }
}

export function auditView(r: AuditRow): AuditView {
  let detail: Record<string, unknown> = {}
  try {
    detail = JSON.parse(r.detail) as Record<string, unknown>
  } catch {
    detail = { unreadable: r.detail }
  }
  return { seq: Number(r.seq), at: r.at, actor: r.actor, actorKind: r.actor_kind, action: r.action, resource: r.resource, collection: r.collection, ip: r.ip, outcome: r.outcome, status: r.status, detail, hash: r.hash }
}

export interface AuditQuery {
  limit?: number
  before?: number
  actor?: string
  action?: string
  from?: string
  to?: string
}

/** Newest first. */
export async function listAudit(db: Db, q: AuditQuery): Promise<AuditRow[]> {
  let query = db.selectFrom('audit_event').selectAll().orderBy('seq', 'desc').limit(Math.min(Math.max(q.limit ?? 100, 1), 1000))
  if (q.before) query = query.where('seq', '<', q.before)
  if (q.actor) query = query.where('actor', '=', q.actor)
  if (q.action) query = query.where('action', 'like', `${q.action}%`)
  if (q.from) query = query.where('at', '>=', q.from)
  if (q.to) query = query.where('at', '<', q.to)
  return query.execute()
}

/** Oldest first, in pages, for verification and export. */
export async function* auditRows(db: Db, range: { from?: string; to?: string } = {}, page = 5000): AsyncGenerator<AuditRow> {
  let after = 0
  for (;;) {
    let q = db.selectFrom('audit_event').selectAll().where('seq', '>', after).orderBy('seq').limit(page)
    if (range.from) q = q.where('at', '>=', range.from)
    if (range.to) q = q.where('at', '<', range.to)
    const rows = await q.execute()
    for (const r of rows) yield r
    if (rows.length < page) return
    after = Number(rows[rows.length - 1]!.seq)
  }
}

export interface ChainReport {
  ok: boolean
  events: number
  firstBad: number | null
  reason: string | null
  head: string
}

/**
 * Walks the whole chain. Finds an edited row (hash mismatch), a removed or inserted row (link
 * mismatch) and a gap in `seq`. Removing the newest rows is found only against a head hash
 * kept elsewhere (`kura audit export` prints it; compare with `expectHead`).
 */
export async function verifyAudit(db: Db, expectHead?: { seq: number; hash: string }): Promise<ChainReport> {
  let prev = CHAIN_GENESIS
  let expectSeq = 1
  let events = 0
  for await (const r of auditRows(db)) {
    const seq = Number(r.seq)
    const bad = (reason: string): ChainReport => ({ ok: false, events, firstBad: seq, reason, head: prev })
    if (seq !== expectSeq) return bad(`event ${expectSeq} is missing (the next is ${seq}): rows were deleted`)
    if (r.prev_hash !== prev) return bad('its link to the previous event does not match: an earlier event was removed or replaced')
    if (chainHash(prev, hashedBody(r)) !== r.hash) return bad('its content does not match its hash: it was edited')
    prev = r.hash
    expectSeq++
    events++
    if (expectHead && seq === expectHead.seq && r.hash !== expectHead.hash) return bad('it differs from the head hash recorded earlier')
  }
  if (expectHead && expectHead.seq > events) return { ok: false, events, firstBad: events + 1, reason: `the log ends at ${events} but event ${expectHead.seq} was recorded earlier: the newest events were deleted`, head: prev }
  return { ok: true, events, firstBad: null, reason: null, head: prev }
}
