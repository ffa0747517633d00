/**
 * @module Clinical records in the outbox. Records are small, so they live in the outbox database rather than as
 * spool files. A vendor export source spools each raw input (an export row) into `record_inputs` in batched
 * transactions, together with its progress through the file (so a restart never takes a row twice); the SS-MIX2
 * source spools nothing (the hospital's tree keeps the message files) and hands its messages to the pipeline in
 * memory. The pipeline turns each input into `objects` rows of kind `record` (queued with the de-identified record,
 * or quarantined with the raw input and per-field reasons: held, never dropped) and, in the same transaction,
 * removes a spooled input or remembers a message file as taken; the uploader claims queued records in batches and
 * confirms each from the hub's per-record answer.
 *
 * A record's key (SHA-256 of its canonical JSON, docs/upload-protocol.md) is `records.key`, found by its indexed
 * `key_prefix` (record-schema.ts); a claimed record carries it as `output_sha256`, which the row itself leaves empty.
 */
import type Database from 'better-sqlite3'
import { newId } from '@kura/core'
import type { Outbox, OutboxRow } from './outbox.ts'
import { keyPrefix } from './record-schema.ts'

/** A raw input as a source read it. `format` says how to read it: `ssmix2`, or `adapter:<name>` for an export row. */
export interface RecordInput {
  source: string
  /** Where it came from (file path, row number): shown with a held record's reasons. */
  ref: string
  format: string
  raw: Uint8Array | string
}

/**
 * An input on its way through the record stage: spooled in `record_inputs` (`id`), or read just now and held in
 * memory only (`id` null: an SS-MIX2 message, which the hospital's tree keeps durably), with the `file` it was
 * read from, remembered as taken in the transaction that settles its records.
 */
export interface SpooledInput extends RecordInput {
  id: string | null
  raw: Uint8Array
  receivedAt: number
  file?: TakenFile
}

/** A whole file taken (an SS-MIX2 message file, a finished export file). */
export interface TakenFile {
  path: string
  size: number
  mtimeMs: number
  sha256: string
}

/**
 * What the pipeline made of one input: clean records, and held ones with their reasons. A clean record's `body`
 * is its canonical JSON, as text or as that text's UTF-8 bytes (from a worker, record-wire.ts: stored as they are).
 */
export type RecordOutput =
  | { kind: 'clean'; key: string; body: string | Uint8Array; recordKind: string; studyUid: string | null }
  | { kind: 'held'; recordKind: string | null; reasons: Array<{ path: string; message: string }>; summary: string }

export interface ClaimedRecord extends OutboxRow {
  body: string
}

export interface HeldRecordRow {
  id: string
  source: string
  ref: string | null
  recordKind: string | null
  state: string
  reasons: Array<{ path: string; message: string }>
  at: number
}

/** Rows per multi-row statement: one statement call per 100 rows instead of one per row (12 columns × 100 is far below SQLite's variable limit). */
const ROWS_PER_STATEMENT = 100

/** Multi-row forms of the statements a batch runs once per row, by table. */
const MULTI = {
  input: { head: 'INSERT INTO record_inputs (id, source, ref, format, raw, received_at) VALUES ', row: '(?, ?, ?, ?, ?, ?)', cols: 6 },
  taken: { head: 'INSERT OR REPLACE INTO taken (path, size, mtime_ms, sha256, object_id, taken_at) VALUES ', row: '(?, ?, ?, ?, ?, ?)', cols: 6 },
  object: { head: 'INSERT INTO objects (id, kind, source, source_ref, state, input_bytes, output_sha256, output_bytes, study_uid, received_at, updated_at, last_error, outcome) VALUES ', row: '(?, \'record\', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)', cols: 12 },
  // A body given as UTF-8 bytes is stored as the text it encodes (a CAST of text is a no-op): `body` stays TEXT.
  record: { head: 'INSERT INTO records (id, record_kind, body, raw, reasons, key, key_prefix) VALUES ', row: '(?, ?, CAST(? AS TEXT), ?, ?, ?, ?)', cols: 7 },
  dropInput: { head: 'DELETE FROM record_inputs WHERE id IN (', row: '?', cols: 1, tail: ')' },
  // Candidates by prefix (records_key_prefix), their rows by id; `+state`: not by scanning every queued record.
  known: { head: 'SELECT r.key FROM records r JOIN objects o ON o.id = r.id WHERE +o.state IN (\'queued\', \'uploading\', \'retry\', \'confirmed\') AND r.key_prefix IN (', row: '?', cols: 1, tail: ')' },
} as const

/**
 * WAL pages between automatic checkpoints (SQLite's default is 1,000, 4 MB). A record batch writes several MB
 * (raw inputs spooled, then deleted; records and their index entries): with checkpoints this far apart a page
 * written by several batches reaches the database file once (measured, 100k records: 11.7 → 9.5 KB written per
 * record, 95 → 65 µs). Commits still fsync the WAL (synchronous FULL), so durability is unchanged.
 */
const WAL_AUTOCHECKPOINT_PAGES = 10_000
/** `PRAGMA temp_store` value for MEMORY. */
const TEMP_STORE_MEMORY = 2

type MultiName = keyof typeof MULTI

/** better-sqlite3 binds Buffers (as blobs); a view of the same bytes, never a copy. */
function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength)
}

export class RecordOutbox {
  private readonly db: Database.Database
  private readonly outbox: Outbox
  private readonly now: () => number
  private readonly st: Record<string, Database.Statement>
  private readonly multi = new Map<string, Database.Statement>()

  constructor(outbox: Outbox, now: () => number = Date.now) {
    this.outbox = outbox
    this.db = outbox.db
    this.now = now
    if ((this.db.pragma('wal_autocheckpoint', { simple: true }) as number) < WAL_AUTOCHECKPOINT_PAGES) this.db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`)
    // A multi-row INSERT keeps a statement journal (a copy of each page it changes, to undo it alone if a later row
    // fails), which SQLite spills to a temp file past 64 KB: a batch's records did, ≈ 3 of the 5.7 write syscalls
    // per record and 7% of settle's CPU (perf, 300k records). In memory it is a page copy; it lives one statement.
    if ((this.db.pragma('temp_store', { simple: true }) as number) !== TEMP_STORE_MEMORY) this.db.pragma('temp_store = MEMORY')
    const p = (sql: string) => this.db.prepare(sql)
    this.st = {
      taken: p('INSERT OR REPLACE INTO taken (path, size, mtime_ms, sha256, object_id, taken_at) VALUES (?, ?, ?, ?, ?, ?)'),
      progress: p('INSERT OR REPLACE INTO export_progress (path, size, mtime_ms, rows_done) VALUES (?, ?, ?, ?)'),
      getProgress: p('SELECT rows_done FROM export_progress WHERE path = ? AND size = ? AND mtime_ms = ?'),
      dropProgress: p('DELETE FROM export_progress WHERE path = ?'),
      pending: p('SELECT * FROM record_inputs ORDER BY rowid LIMIT ? OFFSET ?'),
      due: p('SELECT o.*, r.body, r.key FROM objects o JOIN records r ON r.id = o.id WHERE o.kind = \'record\' AND o.state IN (\'queued\', \'retry\') AND o.next_attempt_at <= ? ORDER BY o.next_attempt_at, o.received_at LIMIT ?'),
      claimOne: p('UPDATE objects SET state = \'uploading\', attempts = attempts + 1, updated_at = ? WHERE id = ? AND state IN (\'queued\', \'retry\')'),
      confirmOne: p('UPDATE objects SET state = \'confirmed\', outcome = ?, last_error = NULL, updated_at = ? WHERE id = ? AND state = \'uploading\''),
      dropBody: p('UPDATE records SET body = NULL WHERE id = ?'),
      held: p('SELECT o.id, o.source, o.source_ref AS ref, o.state, o.updated_at AS at, o.last_error AS lastError, r.record_kind AS recordKind, r.reasons FROM objects o JOIN records r ON r.id = o.id WHERE o.kind = \'record\' AND o.state IN (\'quarantined\', \'failed\') ORDER BY o.updated_at DESC LIMIT ?'),
      counts: p('SELECT state, COUNT(*) AS count FROM objects WHERE kind = \'record\' GROUP BY state'),
      inputs: p('SELECT COUNT(*) AS n FROM record_inputs'),
    }
  }

  /** Runs `MULTI[name]` over `values` (its columns, row after row), ROWS_PER_STATEMENT rows per call, in order. */
  private runRows(name: MultiName, values: unknown[]): void {
    this.eachChunk(name, values, (st, v) => { st.run(v) })
  }

  /** `MULTI[name]`'s statement over `values`, ROWS_PER_STATEMENT rows at a time. */
  private eachChunk(name: MultiName, values: unknown[], run: (st: Database.Statement, values: unknown[]) => void): void {
    const m = MULTI[name]
    const rows = values.length / m.cols
    for (let at = 0; at < rows; at += ROWS_PER_STATEMENT) {
      const n = Math.min(ROWS_PER_STATEMENT, rows - at)
      const key = `${name}/${n}`
      let st = this.multi.get(key)
      if (st === undefined) {
        st = this.db.prepare(`${m.head}${Array(n).fill(m.row).join(', ')}${'tail' in m ? m.tail : ''}`)
        this.multi.set(key, st)
      }
      run(st, n === rows ? values : values.slice(at * m.cols, (at + n) * m.cols))
    }
  }

  /**
   * Which of `keys` are already waiting or confirmed: one query per ROWS_PER_STATEMENT keys, not one per key. Keys
   * sharing a prefix with one of them are found too: only the whole key counts.
   */
  private knownKeys(keys: string[]): Set<string> {
    const wanted = new Set(keys)
    const known = new Set<string>()
    this.eachChunk('known', keys.map(keyPrefix), (st, v) => {
      for (const r of st.all(v) as Array<{ key: string }>) if (wanted.has(r.key)) known.add(r.key)
    })
    return known
  }

  /**
   * Spools raw inputs in one transaction, with the files they complete (`taken`) or a vendor export's progress,
   * so what is spooled and what is remembered as taken never disagree after a crash. Returns the input ids.
   */
  addInputs(inputs: readonly RecordInput[], opts: { taken?: readonly TakenFile[]; progress?: { path: string; size: number; mtimeMs: number; rowsDone: number } } = {}): string[] {
    const ids: string[] = []
    this.db.transaction(() => {
      const t = this.now()
      const rows: unknown[] = []
      for (const i of inputs) {
        const id = newId()
        const raw = typeof i.raw === 'string' ? Buffer.from(i.raw, 'utf8') : i.raw
        rows.push(id, i.source, i.ref, i.format, raw, t)
        ids.push(id)
      }
      this.runRows('input', rows)
      // One file per input (SS-MIX2) names its input; otherwise the file produced several (or none).
      const taken = opts.taken ?? []
      const takenRows: unknown[] = []
      for (let i = 0; i < taken.length; i++) {
        const f = taken[i]!
        takenRows.push(f.path, f.size, Math.floor(f.mtimeMs), f.sha256, taken.length === ids.length ? ids[i] : 'inputs', t)
      }
      this.runRows('taken', takenRows)
      const p = opts.progress
      if (p) this.st.progress!.run(p.path, p.size, Math.floor(p.mtimeMs), p.rowsDone)
    })()
    return ids
  }

  /** Rows of this export file (same size and mtime) already spooled; 0 when it is new or changed. */
  exportProgress(path: string, size: number, mtimeMs: number): number {
    const r = this.st.getProgress!.get(path, size, Math.floor(mtimeMs)) as { rows_done: number } | undefined
    return r?.rows_done ?? 0
  }

  /** The export file is wholly spooled: remembered as taken, its progress forgotten. */
  finishExport(file: TakenFile): void {
    this.db.transaction(() => {
      this.st.taken!.run(file.path, file.size, Math.floor(file.mtimeMs), file.sha256, 'export', this.now())
      this.st.dropProgress!.run(file.path)
    })()
  }

  wasTaken(path: string, size: number, mtimeMs: number): boolean {
    return this.outbox.wasTaken(path, size, mtimeMs)
  }

  /** The oldest `limit` inputs, after the first `skip` (a batch already being staged and not yet settled). */
  pendingInputs(limit: number, skip = 0): SpooledInput[] {
    return (this.st.pending!.all(limit, skip) as Array<{ id: string; source: string; ref: string; format: string; raw: Buffer; received_at: number }>)
      .map((r) => ({ id: r.id, source: r.source, ref: r.ref, format: r.format, raw: r.raw, receivedAt: r.received_at }))
  }

  inputCount(): number {
    return (this.st.inputs!.get() as { n: number }).n
  }

  /**
   * Records what the pipeline made of inputs, remembers the files of those read from memory as taken, and removes
   * the spooled ones, in one transaction: a crash before it leaves every input to be staged again (from the spool,
   * or from its file, not taken yet), one after it leaves none. A clean record whose key is already waiting or
   * confirmed is not queued twice (the same message read again). Returns counts.
   */
  settle(results: ReadonlyArray<{ input: SpooledInput; outputs: readonly RecordOutput[] }>): { queued: number; held: number; duplicates: number } {
    const n = { queued: 0, held: 0, duplicates: 0 }
    this.db.transaction(() => {
      const t = this.now()
      const objects: unknown[] = []
      const records: unknown[] = []
      const drops: string[] = []
      const taken: unknown[] = []
      const keys: string[] = []
      for (const { outputs } of results) for (const o of outputs) if (o.kind === 'clean') keys.push(o.key)
      // Keys already waiting or confirmed, and those queued by this batch: rows are written together at the end, so
      // a key twice in one batch is caught here.
      const queued = this.knownKeys(keys)
      for (const { input, outputs } of results) {
        const firstObject = objects.length
        for (const o of outputs) {
          if (o.kind === 'clean') {
            if (queued.has(o.key)) { n.duplicates++; continue }
            queued.add(o.key)
            const id = newId()
            const body = typeof o.body === 'string' ? o.body : asBuffer(o.body)
            objects.push(id, input.source, input.ref, 'queued', input.raw.length, null, typeof body === 'string' ? Buffer.byteLength(body) : body.length, o.studyUid, input.receivedAt, t, null, null)
            records.push(id, o.recordKind, body, null, null, o.key, keyPrefix(o.key))
            n.queued++
          } else {
            const id = newId()
            objects.push(id, input.source, input.ref, 'quarantined', input.raw.length, null, null, null, input.receivedAt, t, o.summary, 'held')
            records.push(id, o.recordKind, null, input.raw, JSON.stringify(o.reasons), null, null)
            n.held++
          }
        }
        if (input.id !== null) drops.push(input.id)
        const f = input.file
        // Names the input's first record (a message may hold none): the input itself never had a row.
        if (f) taken.push(f.path, f.size, Math.floor(f.mtimeMs), f.sha256, objects.length > firstObject ? objects[firstObject] : 'none', t)
      }
      this.runRows('object', objects)
      this.runRows('record', records)
      this.runRows('taken', taken)
      this.runRows('dropInput', drops)
    })()
    return n
  }

  /** Claims up to `max` due records (and at most `maxBytes` of bodies) for one POST /api/records. */
  claim(max: number, maxBytes: number): ClaimedRecord[] {
    return this.db.transaction(() => {
      const t = this.now()
      const rows = this.st.due!.all(t, max) as Array<ClaimedRecord & { key: string | null }>
      const out: ClaimedRecord[] = []
      let bytes = 0
      for (const { key, ...r } of rows) {
        if (out.length > 0 && bytes + (r.output_bytes ?? 0) > maxBytes) break
        bytes += r.output_bytes ?? 0
        this.st.claimOne!.run(t, r.id)
        out.push({ ...r, output_sha256: key ?? r.output_sha256, state: 'uploading', attempts: r.attempts + 1 })
      }
      return out
    })()
  }

  /** The hub stored the records (or already had them): the row stays, the body goes. */
  confirm(ids: readonly string[], outcome: string): void {
    this.db.transaction(() => {
      const t = this.now()
      for (const id of ids) {
        if (this.st.confirmOne!.run(outcome, t, id).changes !== 1) throw new Error(`record ${id} is not being uploaded; cannot confirm it`)
        this.st.dropBody!.run(id)
      }
    })()
  }

  /** Held and failed records with their reasons, newest first (for status). */
  held(limit = 20): HeldRecordRow[] {
    return (this.st.held!.all(limit) as Array<Omit<HeldRecordRow, 'reasons'> & { reasons: string | null; lastError: string | null }>)
      .map(({ lastError, ...r }) => ({ ...r, reasons: r.reasons ? JSON.parse(r.reasons) : [{ path: '', message: lastError ?? 'refused by the hub' }] }))
  }

  /** Records by state (every source together), and raw inputs not yet processed. */
  counts(): { inputs: number; states: Record<string, number> } {
    const states: Record<string, number> = {}
    for (const r of this.st.counts!.all() as Array<{ state: string; count: number }>) states[r.state] = r.count
    return { inputs: this.inputCount(), states }
  }
}
