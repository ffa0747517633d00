/**
 * @module The outbox's own schema migration for clinical records. A spool written by a gateway that knew only DICOM
 * keeps working: `objects` gains a `kind` column whose default marks every old row as DICOM, and the record
 * tables are created beside it. Versioned by SQLite's `user_version`, so each step runs once.
 *
 * - `record_inputs`: raw inputs (an SS-MIX2 message file, a vendor export row) spooled durably before anything
 *   else happens to them; removed once their records are in `objects`.
 * - `records`: one per `objects` row of kind `record`: the de-identified record (while waiting for the hub), or
 *   the raw input and the per-field reasons (held on site, never uploaded).
 * - `export_progress`: how many rows of a vendor export file are already spooled, so a restart mid-file resumes
 *   after them instead of taking them twice.
 */
import type Database from 'better-sqlite3'

/** The schema version this gateway writes (0: before records). */
export const OUTBOX_SCHEMA_VERSION = 1

export function migrateRecordSchema(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number
  if (version >= OUTBOX_SCHEMA_VERSION) return
  db.transaction(() => {
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
    db.pragma(`user_version = ${OUTBOX_SCHEMA_VERSION}`)
  })()
}
