/**
 * @module The outbox's own schema migration for clinical records. A spool written by a gateway that knew only DICOM
 * keeps working: `objects` gains a `kind` column whose default marks every old row as DICOM, and the record
 * tables are created beside it. Versioned by SQLite's `user_version`, so each step runs once.
 *
 * - `record_inputs`: raw inputs (an SS-MIX2 message file, a vendor export row) spooled durably before anything
 *   else happens to them; removed once their records are in `objects`.
 * - `records`: one per `objects` row of kind `record`: the de-identified record (while waiting for the hub) and its
 *   record key, or the raw input and the per-field reasons (held on site, never uploaded).
 * - `export_progress`: how many rows of a vendor export file are already spooled, so a restart mid-file resumes
 *   after them instead of taking them twice.
 *
 * Version 2 keeps a record's key in `records` (`key`, and `key_prefix`, its first 52 bits, indexed for the look-up
 * that keeps a record from being queued twice) instead of `objects.output_sha256`, whose index holds 64-character
 * keys of every row: each clean record written there touched a page of it at random (measured, 100k records: 2.4 KB
 * of the 3.1 KB written per `objects` row, and 20 µs of its 40). Rows written before have their keys copied over.
 */
import { createHash } from 'node:crypto'
import type Database from 'better-sqlite3'

/** The schema version this gateway writes (0: before records; 1: records; 2: record keys in `records`). */
export const OUTBOX_SCHEMA_VERSION = 2

export function migrateRecordSchema(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number
  if (version >= OUTBOX_SCHEMA_VERSION) return
  db.transaction(() => {
    if (version < 1) createRecordTables(db)
    moveRecordKeys(db)
    db.pragma(`user_version = ${OUTBOX_SCHEMA_VERSION}`)
  })()
}

/**
 * A record key's first 52 bits (13 hex digits: exact as a JS number and as an SQLite integer), `records.key_prefix`.
 * Any other text (tests name keys freely) is hashed first, so equal keys always meet.
 */
export function keyPrefix(key: string): number {
  return parseInt((HEX13.test(key) ? key : createHash('sha256').update(key).digest('hex')).slice(0, 13), 16)
}
const HEX13 = /^[0-9a-f]{13}/

/** Version 1: the kind column (every older row is DICOM) and the record tables. */
function createRecordTables(db: Database.Database): void {
  const cols = db.prepare('PRAGMA table_info(objects)').all() as Array<{ name: string }>
  if (!cols.some((c) => c.name === 'kind')) db.exec('ALTER TABLE objects ADD COLUMN kind TEXT NOT NULL DEFAULT \'dicom\'')
  db.exec(`
CREATE INDEX IF NOT EXISTS objects_kind_state ON objects (kind, state, next_attempt_at);
CREATE TABLE IF NOT EXISTS record_inputs (
  id TEXT PRIMARY KEY,
  source TEXT NOT NULL,
  ref TEXT NOT NULL,
  format TEXT NOT NULL,
  raw BLOB NOT NULL,
  received_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
  id TEXT PRIMARY KEY,
  record_kind TEXT,
  body TEXT,
  raw BLOB,
  reasons TEXT
);
CREATE TABLE IF NOT EXISTS export_progress (
  path TEXT NOT NULL,
  size INTEGER NOT NULL,
  mtime_ms INTEGER NOT NULL,
  rows_done INTEGER NOT NULL,
  PRIMARY KEY (path, size, mtime_ms)
);
`)
}

/** Version 2: keys in `records`, with the prefix index; the keys of rows already written are copied over. */
function moveRecordKeys(db: Database.Database): void {
  db.exec(`
ALTER TABLE records ADD COLUMN key TEXT;
ALTER TABLE records ADD COLUMN key_prefix INTEGER;
CREATE INDEX records_key_prefix ON records (key_prefix);
`)
  db.function('kura_key_prefix', { deterministic: true }, (k) => (typeof k === 'string' ? keyPrefix(k) : null))
  db.exec('UPDATE records SET key = o.output_sha256, key_prefix = kura_key_prefix(o.output_sha256) FROM objects o WHERE o.id = records.id AND o.output_sha256 IS NOT NULL')
}
