/**
 * @module The outbox: one durable row per received object (SQLite, WAL, synchronous FULL), moving through
 * received → deidentified → queued → uploading → confirmed, or aside to quarantined, retry (failed, retryable:
 * attempts, next_attempt_at, last_error) or failed (the hub refused it: kept with the reason).
 *
 * Every transition is one transaction that checks the state it leaves, so a bug cannot skip a step. The files
 * behind the rows live in the spool: a record in `journal/` or `incoming/<id>.dcm` (as received; see
 * `../spool/journal.ts`), a record in `clean/journal/` or `clean/<sha256>.dcm` (de-identified,
 * waiting), `quarantine/<id>/` (never uploaded). A confirmed object keeps only its row. `recover()` puts the
 * spool and the rows back in agreement after a crash; the order of file and row changes everywhere is chosen so
 * that recovery only ever redoes work (de-identification is deterministic, the hub deduplicates by content).
 */
import Database from 'better-sqlite3'
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, rmSync, existsSync, statSync, unlink } from 'node:fs'
import { join } from 'node:path'
import { Journal, type RecordMeta } from '../spool/journal.ts'
import { OutboxErrors } from './errors.ts'
import { migrateRecordSchema } from './record-schema.ts'

export const STATES = ['received', 'deidentified', 'queued', 'uploading', 'confirmed', 'quarantined', 'retry', 'failed'] as const
export type ObjectState = (typeof STATES)[number]
/** States an object waits in before the hub has it. */
export const WAITING: readonly ObjectState[] = ['received', 'deidentified', 'queued', 'uploading', 'retry']

/** What a row carries: a DICOM object (files in the spool) or a clinical record (its data in the records table). */
export type ObjectKind = 'dicom' | 'record'

export interface OutboxRow {
  id: string
  kind: ObjectKind
  source: string
  /** Where it came from: the folder file's path, or the DICOM peer's AE title. */
  source_ref: string | null
  state: ObjectState
  input_bytes: number
  input_sha256: string | null
  output_sha256: string | null
  output_bytes: number | null
  study_uid: string | null
  series_uid: string | null
  sop_uid: string | null
  received_at: number
  updated_at: number
  attempts: number
  next_attempt_at: number
  last_error: string | null
  outcome: string | null
}

export interface NewObject {
  id: string
  source: string
  sourceRef?: string | null
  bytes: number
  sha256?: string | null
  receivedAt?: number
}

export interface Deidentified {
  sha256: string
  bytes: number
  studyUid: string
  seriesUid: string
  sopUid: string
}

/** The sidecar beside `incoming/<id>.dcm` (the DICOM receiver's, or the folder source's with `folderFile`). */
export interface SpoolSidecar {
  source?: string
  callingAE?: string
  bytes?: number
  sha256?: string
  receivedAt?: string
  folderFile?: { path: string; size: number; mtimeMs: number }
}

export interface RecoveryReport {
  partsRemoved: number
  requeued: number
  adopted: number
  leftoversRemoved: number
  lost: number
}

export interface StateCount {
  source: string
  state: ObjectState
  count: number
  bytes: number
}

export interface OutboxEvent {
  at: number
  component: string
  message: string
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS objects (
  id TEXT PRIMARY KEY,
  source TEXT NOT NULL,
  source_ref TEXT,
  state TEXT NOT NULL,
  input_bytes INTEGER NOT NULL,
  input_sha256 TEXT,
  output_sha256 TEXT,
  output_bytes INTEGER,
  study_uid TEXT,
  series_uid TEXT,
  sop_uid TEXT,
  received_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  outcome TEXT
);
CREATE INDEX IF NOT EXISTS objects_state ON objects (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS objects_series ON objects (series_uid, state);
CREATE INDEX IF NOT EXISTS objects_sha ON objects (output_sha256);
CREATE TABLE IF NOT EXISTS taken (
  path TEXT NOT NULL,
  size INTEGER NOT NULL,
  mtime_ms INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  object_id TEXT NOT NULL,
  taken_at INTEGER NOT NULL,
  PRIMARY KEY (path, size, mtime_ms)
);
CREATE TABLE IF NOT EXISTS uploads (
  sha256 TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  component TEXT NOT NULL,
  message TEXT NOT NULL
);
`
const MAX_EVENTS = 200
/**
 * Unlinks run one at a time on the thread pool: a bundle's confirm or a batch's inputs would otherwise queue a hundred
 * unlinks there ahead of the DICOM source's fdatasync, and every C-STORE-RSP waits for that.
 */
const REMOVE_LANES = 1

export class Outbox {
  readonly dir: string
  readonly incoming: string
  readonly clean: string
  readonly quarantine: string
  readonly bundles: string
  /** Small objects the DICOM source received (the spool's journal, shared with it). */
  readonly journal: Journal
  /** Small de-identified objects waiting for the hub, by SHA-256 (larger ones are files in `clean/`). */
  readonly cleanJournal: Journal<RecordMeta>
  readonly db: Database.Database
  private readonly now: () => number
  /** Prepared statements by SQL: preparing costs more than running these small statements. */
  private readonly stmts = new Map<string, Database.Statement>()
  /** Clean outputs being published and not yet recorded (see `holdClean`), with how many holds each. */
  private readonly held = new Map<string, number>()
  /** Clean files being removed (off the main thread), so a publish of the same content can wait for it. */
  private readonly removing = new Map<string, Promise<void>>()
  private readonly removals: Array<{ path: string; done: (e: NodeJS.ErrnoException | null) => void }> = []
  private removers = 0

  private constructor(dir: string, db: Database.Database, journals: { received: Journal; clean: Journal<RecordMeta> }, now: () => number) {
    this.dir = dir
    this.journal = journals.received
    this.cleanJournal = journals.clean
    this.incoming = join(dir, 'incoming')
    this.clean = join(dir, 'clean')
    this.quarantine = join(dir, 'quarantine')
    this.bundles = join(dir, 'bundles')
    this.db = db
    this.now = now
  }

  /** Opens (creating) `<spool>/outbox.sqlite` and the spool folders. Call `recover()` before anything runs. */
  static open(spoolDir: string, opts: { now?: () => number } = {}): Outbox {
    const path = join(spoolDir, 'outbox.sqlite')
    let db: Database.Database
    let journals: { received: Journal; clean: Journal<RecordMeta> }
    try {
      for (const d of ['incoming', 'clean', 'quarantine', 'bundles']) mkdirSync(join(spoolDir, d), { recursive: true })
      db = new Database(path)
      db.pragma('journal_mode = WAL')
      // FULL: a committed transition survives power loss, not only a process crash.
      db.pragma('synchronous = FULL')
      db.pragma('busy_timeout = 5000')
      db.exec(SCHEMA)
      // Spools written before clinical records existed gain the kind column (every old row is DICOM) and record tables.
      migrateRecordSchema(db)
      journals = { received: Journal.open(join(spoolDir, 'journal')), clean: Journal.open<RecordMeta>(join(spoolDir, 'clean', 'journal')) }
    } catch (e) {
      throw OutboxErrors.open(path, e)
    }
    return new Outbox(spoolDir, db, journals, opts.now ?? Date.now)
  }

  /** After the sources and the pipeline have stopped. */
  close(): void {
    this.journal.close()
    this.cleanJournal.close()
    if (this.db.open) this.db.close()
  }

  /** A cached prepared statement for `sql`. */
  private q(sql: string): Database.Statement {
    let st = this.stmts.get(sql)
    if (!st) { st = this.db.prepare(sql); this.stmts.set(sql, st) }
    return st
  }

  get(id: string): OutboxRow | undefined {
    return this.q('SELECT * FROM objects WHERE id = ?').get(id) as OutboxRow | undefined
  }

  /** Moves `id` from one of `from` to `to` with `set` columns; throws when it is not in one of `from`. */
  private move(id: string, from: readonly ObjectState[], to: ObjectState, set: Record<string, unknown> = {}): void {
    const cols = Object.keys(set)
    const sql = `UPDATE objects SET state = ?, updated_at = ?${cols.map((c) => `, ${c} = ?`).join('')} WHERE id = ? AND state IN (${from.map(() => '?').join(',')})`
    const r = this.q(sql).run(to, this.now(), ...cols.map((c) => set[c]), id, ...from)
    if (r.changes !== 1) throw OutboxErrors.transition(id, to, this.get(id)?.state ?? null)
  }

  /**
   * Moves every one of `ids` from one of `from` to `to` in one statement (a bundle's rows: one UPDATE instead of
   * one each), with `set` columns and `setSql` (SQL assignments, e.g. `attempts = attempts + 1`). Throws, naming
   * the first row that is not in one of `from`, when any is not: inside the caller's transaction, nothing moves.
   * Returns the rows' `returning` columns.
   */
  private moveAll(ids: readonly string[], from: readonly ObjectState[], to: ObjectState, set: Record<string, unknown> = {}, setSql = '', returning = 'id'): Array<Record<string, unknown>> {
    const unique = [...new Set(ids)]
    if (unique.length === 0) return []
    const cols = Object.keys(set)
    const sql = `UPDATE objects SET state = ?, updated_at = ?${cols.map((c) => `, ${c} = ?`).join('')}${setSql ? `, ${setSql}` : ''} WHERE id IN (SELECT value FROM json_each(?)) AND state IN (${from.map(() => '?').join(',')}) RETURNING ${returning}`
    const moved = this.q(sql).all(to, this.now(), ...cols.map((c) => set[c]), JSON.stringify(unique), ...from) as Array<Record<string, unknown>>
    if (moved.length !== unique.length) {
      const done = new Set(moved.map((r) => r.id))
      const id = unique.find((i) => !done.has(i))!
      throw OutboxErrors.transition(id, to, this.get(id)?.state ?? null)
    }
    return moved
  }

  /** Records a newly spooled object (idempotent on its id). */
  add(o: NewObject): void {
    const t = o.receivedAt ?? this.now()
    this.q('INSERT OR IGNORE INTO objects (id, source, source_ref, state, input_bytes, input_sha256, received_at, updated_at) VALUES (?, ?, ?, \'received\', ?, ?, ?, ?)')
      .run(o.id, o.source, o.sourceRef ?? null, o.bytes, o.sha256 ?? null, t, t)
  }

  /**
   * Records many newly spooled objects in one transaction (one commit, one WAL fsync, instead of one each). Used for
   * objects already durable in `incoming/`: a crash before this commit only means `adoptSpooled` finds them.
   */
  addMany(objects: readonly NewObject[]): void {
    if (objects.length === 0) return
    this.db.transaction(() => { for (const o of objects) this.add(o) })()
  }

  /** A folder file taken into the spool: the row and the "taken" record in one transaction, so it is never taken twice. */
  addTaken(o: NewObject, file: { path: string; size: number; mtimeMs: number; sha256: string }): void {
    this.db.transaction(() => {
      this.add(o)
      this.q('INSERT OR REPLACE INTO taken (path, size, mtime_ms, sha256, object_id, taken_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(file.path, file.size, Math.floor(file.mtimeMs), file.sha256, o.id, this.now())
    })()
  }

  wasTaken(path: string, size: number, mtimeMs: number): boolean {
    return this.q('SELECT 1 FROM taken WHERE path = ? AND size = ? AND mtime_ms = ?').get(path, size, Math.floor(mtimeMs)) !== undefined
  }

  /** The clean output is durable (a record in `clean/journal/`, or `clean/<sha256>.dcm`) before this is called. */
  markDeidentified(id: string, d: Deidentified): void {
    this.move(id, ['received'], 'deidentified', { output_sha256: d.sha256, output_bytes: d.bytes, study_uid: d.studyUid, series_uid: d.seriesUid, sop_uid: d.sopUid, last_error: null })
  }

  /** Ready for upload (grouping is by series_uid, which the uploader bundles on). */
  enqueue(id: string): void {
    this.move(id, ['deidentified'], 'queued')
  }

  /** Never uploaded; the reason file is already under quarantine/<id>/. */
  markQuarantined(id: string, reason: string): void {
    this.move(id, ['received', 'deidentified', 'queued', 'retry'], 'quarantined', { last_error: reason, outcome: 'quarantined' })
  }

  /**
   * Claims the next upload: the oldest due object and, when it is small, the other due objects of its series up to
   * `bundleBytes`. Objects of the same content travel once. Returns [] when nothing is due.
   */
  claim(opts: { bundleBytes: number; largeObjectBytes: number; maxObjects?: number; lingerMs?: number; readyObjects?: number; readyBytes?: number }): OutboxRow[] {
    return this.db.transaction(() => {
      const now = this.now()
      // Linger: an object queued moments ago waits a little for the rest of its series, so they travel as one bundle.
      let first = this.q('SELECT * FROM objects WHERE state IN (\'queued\', \'retry\') AND kind = \'dicom\' AND next_attempt_at <= ? AND (updated_at <= ? OR state = \'retry\') ORDER BY next_attempt_at, received_at LIMIT 1').get(now, now - (opts.lingerMs ?? 0)) as OutboxRow | undefined
      // ... unless its series already has a bundle's worth (`readyObjects` or `readyBytes` small objects) waiting:
      // a series that arrives fast then travels while it arrives, instead of a linger behind.
      if (!first && opts.readyObjects) {
        const ready = this.q('SELECT series_uid FROM objects WHERE state = \'queued\' AND kind = \'dicom\' AND next_attempt_at <= ? AND output_bytes <= ? AND series_uid IS NOT NULL GROUP BY series_uid HAVING count(*) >= ? OR sum(output_bytes) >= ? LIMIT 1')
          .get(now, opts.largeObjectBytes, opts.readyObjects, opts.readyBytes ?? opts.bundleBytes) as { series_uid: string } | undefined
        if (ready) first = this.q('SELECT * FROM objects WHERE series_uid = ? AND kind = \'dicom\' AND state IN (\'queued\', \'retry\') AND next_attempt_at <= ? AND output_bytes <= ? ORDER BY received_at LIMIT 1').get(ready.series_uid, now, opts.largeObjectBytes) as OutboxRow | undefined
      }
      if (!first) return []
      let rows: OutboxRow[]
      if ((first.output_bytes ?? 0) > opts.largeObjectBytes) rows = [first]
      else {
        const candidates = this.q('SELECT * FROM objects WHERE series_uid = ? AND kind = \'dicom\' AND state IN (\'queued\', \'retry\') AND next_attempt_at <= ? AND output_bytes <= ? ORDER BY received_at')
          .all(first.series_uid, now, opts.largeObjectBytes) as OutboxRow[]
        rows = [first]
        let bytes = first.output_bytes ?? 0
        const shas = new Set([first.output_sha256])
        for (const r of candidates) {
          if (r.id === first.id) continue
          if (shas.has(r.output_sha256)) { rows.push(r); continue }
          if (bytes + (r.output_bytes ?? 0) > opts.bundleBytes || shas.size >= (opts.maxObjects ?? 5000)) continue
          shas.add(r.output_sha256)
          bytes += r.output_bytes ?? 0
          rows.push(r)
        }
      }
      this.moveAll(rows.map((r) => r.id), ['queued', 'retry'], 'uploading', {}, 'attempts = attempts + 1')
      return rows.map((r) => ({ ...r, state: 'uploading' as const, attempts: r.attempts + 1 }))
    })()
  }

  /**
   * The hub stored it (or already had it). Removes the clean output once no waiting row needs the same content,
   * after the row is committed: a crash in between leaves a file or record recovery removes.
   */
  confirm(ids: readonly string[], outcome: 'stored' | 'duplicate' | string): void {
    const shas = new Set<string>()
    this.db.transaction(() => {
      for (const r of this.moveAll(ids, ['uploading'], 'confirmed', { outcome, last_error: null }, '', 'id, output_sha256')) {
        if (typeof r.output_sha256 === 'string') shas.add(r.output_sha256)
      }
    })()
    for (const sha of shas) this.removeCleanIfDone(sha)
  }

  /** The hub refused the object (conflict, rejected, quarantined there): kept on site with the reason, not retried. */
  fail(ids: readonly string[], outcome: string, reason: string): void {
    this.db.transaction(() => { this.moveAll(ids, ['uploading'], 'failed', { outcome, last_error: reason }) })()
  }

  /** Failed for now (network, hub down, disk full): retried at `at` (ms). */
  retry(ids: readonly string[], reason: string, at: number): void {
    this.db.transaction(() => { this.moveAll(ids, ['uploading'], 'retry', { last_error: reason, next_attempt_at: at }) })()
  }

  /** Back to the queue untouched (e.g. uploads paused by an auth failure, or shutdown): no attempt is counted. */
  release(ids: readonly string[]): void {
    this.db.transaction(() => {
      for (const id of ids) {
        const r = this.get(id)
        this.move(id, ['uploading'], 'queued', { attempts: Math.max(0, (r?.attempts ?? 1) - 1) })
      }
    })()
  }

  /**
   * Keeps `clean/<sha256>.dcm` from removal while the pipeline publishes it and until its row records it: without
   * this, an upload of another object with the same content confirmed in between would remove the file a queued
   * row is about to need. In memory only: after a restart nothing is between publishing and recording.
   */
  holdClean(sha: string): void {
    this.held.set(sha, (this.held.get(sha) ?? 0) + 1)
  }

  releaseClean(sha: string): void {
    const n = (this.held.get(sha) ?? 0) - 1
    if (n > 0) this.held.set(sha, n)
    else this.held.delete(sha)
  }

  private removeCleanIfDone(sha: string): void {
    if (this.held.has(sha)) return
    const waiting = this.q(`SELECT 1 FROM objects WHERE output_sha256 = ? AND state IN (${WAITING.map(() => '?').join(',')}) LIMIT 1`).get(sha, ...WAITING)
    if (waiting) return
    if (this.cleanJournal.has(sha)) return this.cleanJournal.release(sha)
    // On the thread pool (unlinking costs the main thread 0.2–0.6 ms a file); one that fails is a leftover recovery
    // removes. A publish of the same content holds the SHA first, then waits for this (`cleanRemoval`).
    const p: Promise<void> = this.removeLater(this.cleanPath(sha)).catch(() => {}).finally(() => {
      if (this.removing.get(sha) === p) this.removing.delete(sha)
    })
    this.removing.set(sha, p)
  }

  /**
   * Unlinks `path` off the main thread, queued behind other removals (REMOVE_LANES); a missing file is not an error.
   * For files whose work is recorded: a removal lost to a crash leaves a file recovery removes.
   */
  removeLater(path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.removals.push({ path, done: (e) => (e && e.code !== 'ENOENT' ? reject(e) : resolve()) })
      this.pumpRemovals()
    })
  }

  private pumpRemovals(): void {
    while (this.removers < REMOVE_LANES && this.removals.length > 0) {
      const r = this.removals.shift()!
      this.removers++
      unlink(r.path, (e) => {
        this.removers--
        r.done(e)
        this.pumpRemovals()
      })
    }
  }

  /** The removal of `clean/<sha256>.dcm` in flight, if any (await it before putting a file of that name back). */
  cleanRemoval(sha: string): Promise<void> | undefined {
    return this.removing.get(sha)
  }

  cleanPath(sha: string): string {
    return join(this.clean, `${sha}.dcm`)
  }

  incomingPath(id: string): string {
    return join(this.incoming, `${id}.dcm`)
  }

  /** A clean output's bytes when it is in the clean journal; null when it is the file at `cleanPath(sha)`. */
  cleanData(sha: string): Uint8Array | null {
    return this.cleanJournal.has(sha) ? this.cleanJournal.read(sha) : null
  }

  /** A received object's input: its bytes when it is in the journal, else the path of its file in `incoming/`. */
  input(id: string): Uint8Array | string {
    return this.journal.has(id) ? this.journal.read(id) : this.incomingPath(id)
  }

  /** Objects received but not yet de-identified, oldest first. */
  pending(limit = 100): OutboxRow[] {
    return this.q('SELECT * FROM objects WHERE state = \'received\' AND kind = \'dicom\' ORDER BY received_at LIMIT ?').all(limit) as OutboxRow[]
  }

  /** For status: count and bytes per source and state. */
  counts(): StateCount[] {
    return this.db.prepare('SELECT source, state, COUNT(*) AS count, COALESCE(SUM(COALESCE(output_bytes, input_bytes)), 0) AS bytes FROM objects GROUP BY source, state ORDER BY source, state').all() as StateCount[]
  }

  /** Objects received per source since `since` (ms), for receive rates. */
  receivedSince(since: number): Array<{ source: string; count: number; bytes: number }> {
    return this.db.prepare('SELECT source, COUNT(*) AS count, COALESCE(SUM(input_bytes), 0) AS bytes FROM objects WHERE received_at >= ? GROUP BY source').all(since) as Array<{ source: string; count: number; bytes: number }>
  }

  oldestWaiting(): OutboxRow | undefined {
    return this.db.prepare(`SELECT * FROM objects WHERE state IN (${WAITING.map(() => '?').join(',')}) ORDER BY received_at LIMIT 1`).get(...WAITING) as OutboxRow | undefined
  }

  /** Waiting objects whose due time lies in the future (retry), to know when to look again. */
  nextDue(): number | null {
    const r = this.q('SELECT MIN(next_attempt_at) AS t FROM objects WHERE state IN (\'queued\', \'retry\')').get() as { t: number | null }
    return r.t
  }

  /** The hub upload (tus URL) a payload with this SHA-256 was being sent to, so a retry or restart resumes it. */
  uploadUrl(sha256: string): string | null {
    const r = this.q('SELECT url FROM uploads WHERE sha256 = ?').get(sha256) as { url: string } | undefined
    return r?.url ?? null
  }

  rememberUpload(sha256: string, url: string): void {
    this.q('INSERT OR REPLACE INTO uploads (sha256, url, created_at) VALUES (?, ?, ?)').run(sha256, url, this.now())
  }

  forgetUpload(sha256: string): void {
    this.q('DELETE FROM uploads WHERE sha256 = ?').run(sha256)
  }

  recordEvent(component: string, message: string): void {
    this.q('INSERT INTO events (at, component, message) VALUES (?, ?, ?)').run(this.now(), component, message)
    this.q('DELETE FROM events WHERE seq <= (SELECT MAX(seq) FROM events) - ?').run(MAX_EVENTS)
  }

  lastEvents(n = 10): OutboxEvent[] {
    return this.db.prepare('SELECT at, component, message FROM events ORDER BY seq DESC LIMIT ?').all(n) as OutboxEvent[]
  }

  /** Gives a row to every committed `incoming/<id>.dcm` that has none (from its sidecar when there is one). */
  adoptSpooled(): number {
    let adopted = 0
    for (const n of readdirSync(this.incoming)) {
      if (!n.endsWith('.dcm')) continue
      const id = n.slice(0, -4)
      if (this.get(id)) continue
      let side: SpoolSidecar = {}
      try { side = JSON.parse(readFileSync(join(this.incoming, `${id}.json`), 'utf8')) } catch { /* no sidecar: still adopt the object */ }
      // The DICOM receiver writes no sidecar (its .dcm is durable and self-describing): measure and hash the file.
      if (side.bytes === undefined || side.sha256 === undefined) side = { ...side, ...measure(join(this.incoming, n)) }
      const o: NewObject = { id, source: side.source ?? 'dimse', sourceRef: side.folderFile?.path ?? side.callingAE ?? null, bytes: side.bytes ?? 0, sha256: side.sha256 ?? null, receivedAt: side.receivedAt ? Date.parse(side.receivedAt) : undefined }
      // A folder file's "taken" record travels in its sidecar, so a crash before addTaken still never re-takes it.
      if (side.folderFile && side.sha256) this.addTaken(o, { ...side.folderFile, sha256: side.sha256 })
      else this.add(o)
      adopted++
    }
    return adopted
  }

  /**
   * After a crash: removes partial files, puts claimed uploads back in the queue, adopts spooled objects that never
   * got a row, and removes files whose work is already recorded. Returns what it did.
   */
  recover(): RecoveryReport {
    const rep: RecoveryReport = { partsRemoved: 0, requeued: 0, adopted: 0, leftoversRemoved: 0, lost: 0 }
    for (const dir of [this.incoming, this.clean, this.bundles]) {
      for (const n of readdirSync(dir)) {
        if (n.endsWith('.part') || n.endsWith('.tmp') || dir === this.bundles) {
          rmSync(join(dir, n), { force: true, recursive: true })
          rep.partsRemoved++
        }
      }
    }
    // The hub forgets an upload 24 h after its last PATCH; an older URL would only cost a 404.
    this.db.prepare('DELETE FROM uploads WHERE created_at < ?').run(this.now() - 20 * 3600_000)
    this.db.transaction(() => {
      rep.requeued += this.db.prepare('UPDATE objects SET state = \'queued\', updated_at = ? WHERE state IN (\'uploading\', \'deidentified\')').run(this.now()).changes
    })()
    // Spooled objects without a row (crash between the spool's commit and add()), and rows whose input is done.
    rep.adopted += this.adoptSpooled()
    this.settleJournal(rep)
    const names = new Set(readdirSync(this.incoming))
    for (const n of names) {
      if (!n.endsWith('.dcm')) continue
      const id = n.slice(0, -4)
      const row = this.get(id)
      if (row && row.state !== 'received') {
        rmSync(join(this.incoming, n), { force: true })
        rmSync(join(this.incoming, `${id}.json`), { force: true })
        rep.leftoversRemoved++
      }
    }
    // A sidecar whose object is gone (spool crash mid-commit) is noise.
    for (const n of names) if (n.endsWith('.json') && !names.has(`${n.slice(0, -5)}.dcm`)) rmSync(join(this.incoming, n), { force: true })
    // Rows waiting for de-identification whose input vanished cannot proceed: say so rather than wait forever.
    for (const r of this.db.prepare('SELECT id FROM objects WHERE state = \'received\' AND kind = \'dicom\'').all() as Array<{ id: string }>) {
      if (existsSync(join(this.quarantine, r.id, 'reason.json'))) {
        // The crash came between moving it to quarantine and recording that: record it now.
        this.markQuarantined(r.id, 'quarantined before an interrupted run; see reason.json')
        this.journal.release(r.id)
        continue
      }
      if (!this.journal.has(r.id) && !existsSync(this.incomingPath(r.id))) {
        this.db.prepare('UPDATE objects SET state = \'failed\', outcome = \'lost\', last_error = ?, updated_at = ? WHERE id = ?')
          .run('the spooled input file is missing; the object must be sent again', this.now(), r.id)
        rep.lost++
      }
    }
    // Clean outputs no waiting row needs (crash between confirm's commit and the removal, or between publishing and
    // recording a batch).
    const needed = this.db.prepare(`SELECT 1 FROM objects WHERE output_sha256 = ? AND state IN (${WAITING.map(() => '?').join(',')}) LIMIT 1`)
    for (const m of this.cleanJournal.records()) {
      if (!needed.get(m.id, ...WAITING)) { this.cleanJournal.release(m.id); rep.leftoversRemoved++ }
    }
    for (const n of readdirSync(this.clean)) {
      if (!n.endsWith('.dcm')) continue
      const sha = n.slice(0, -4)
      if (!needed.get(sha, ...WAITING)) { rmSync(join(this.clean, n), { force: true }); rep.leftoversRemoved++ }
    }
    // A waiting row whose clean file is gone is de-identified again from its input if that still exists; otherwise lost.
    // Records carry their data in the records table, not in clean/.
    for (const r of this.db.prepare('SELECT id, output_sha256 FROM objects WHERE state IN (\'queued\', \'retry\') AND kind = \'dicom\'').all() as Array<{ id: string; output_sha256: string }>) {
      if (!this.cleanJournal.has(r.output_sha256) && !existsSync(this.cleanPath(r.output_sha256))) {
        this.db.prepare('UPDATE objects SET state = \'failed\', outcome = \'lost\', last_error = ?, updated_at = ? WHERE id = ?')
          .run('the de-identified file is missing from the spool; send the object again', this.now(), r.id)
        rep.lost++
      }
    }
    return rep
  }

  /**
   * The journal's records against the rows: one without a row was acknowledged to its sender and the crash came
   * before its row was added (adopted), unless its data does not match its hash (a write the crash tore, never
   * acknowledged: dropped); one whose row is past `received` is done (released, so its segment can go).
   */
  private settleJournal(rep: RecoveryReport): void {
    const adopt: NewObject[] = []
    for (const m of this.journal.records()) {
      const row = this.get(m.id)
      if (!row) {
        if (this.journal.verify(m.id)) adopt.push({ id: m.id, source: m.source, sourceRef: m.callingAE, bytes: m.bytes, sha256: m.sha256, receivedAt: Date.parse(m.receivedAt) })
        else { this.journal.release(m.id); rep.partsRemoved++ }
      } else if (row.state !== 'received') {
        this.journal.release(m.id)
        rep.leftoversRemoved++
      }
    }
    this.addMany(adopt)
    rep.adopted += adopt.length
  }
}

/** Size, SHA-256 and modification time of a committed spool file whose sidecar is missing. */
function measure(path: string): Required<Pick<SpoolSidecar, 'bytes' | 'sha256' | 'receivedAt'>> {
  const data = readFileSync(path)
  return { bytes: data.length, sha256: createHash('sha256').update(data).digest('hex'), receivedAt: statSync(path).mtime.toISOString() }
}
