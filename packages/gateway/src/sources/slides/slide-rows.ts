/**
 * @module Slides in the outbox: one `objects` row of kind `slide` per slide, beside DICOM objects and records, so
 * status counts them per source and state like everything else. The DICOM pipeline and uploader select only
 * their own kinds; these statements are the slide source's, each checking the state it leaves.
 *
 * Files, per source under `slides/<hash of its name>/`: `incoming/<id>/` (the taken copy), `clean/<id>.bin` and
 * `<id>.json` (de-identified, waiting: the upload and what to tell the hub about it); and the spool's
 * `quarantine/<id>/` (reason.json and the taken copy, never uploaded). The row's `taken` record (path, bytes,
 * newest mtime) is written in the same transaction as the row, so a slide is never taken twice.
 */
import type { Outbox, OutboxRow } from '../../outbox/index.ts'

export type SlideRow = OutboxRow

export class SlideRows {
  constructor(private readonly outbox: Outbox) {}

  private get db() {
    return this.outbox.db
  }

  /** The row and the "taken" record in one transaction. */
  addTaken(o: { id: string; source: string; path: string; bytes: number; mtimeMs: number; sha256: string }): void {
    const now = Date.now()
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO objects (id, kind, source, source_ref, state, input_bytes, input_sha256, received_at, updated_at) VALUES (?, \'slide\', ?, ?, \'received\', ?, ?, ?, ?)')
        .run(o.id, o.source, o.path, o.bytes, o.sha256, now, now)
      this.db.prepare('INSERT OR REPLACE INTO taken (path, size, mtime_ms, sha256, object_id, taken_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(o.path, o.bytes, Math.floor(o.mtimeMs), o.sha256, o.id, now)
    })()
  }

  get(id: string): SlideRow | undefined {
    return this.db.prepare('SELECT * FROM objects WHERE id = ? AND kind = \'slide\'').get(id) as SlideRow | undefined
  }

  private move(id: string, from: readonly string[], to: string, set: Record<string, unknown> = {}): void {
    const cols = Object.keys(set)
    const r = this.db.prepare(`UPDATE objects SET state = ?, updated_at = ?${cols.map((c) => `, ${c} = ?`).join('')} WHERE id = ? AND kind = 'slide' AND state IN (${from.map(() => '?').join(',')})`)
      .run(to, Date.now(), ...cols.map((c) => set[c]), id, ...from)
    if (r.changes !== 1) throw new Error(`slide ${id} cannot move to ${to}: it is ${this.get(id)?.state ?? 'missing'}`)
  }

  /** De-identified and waiting for upload (a DICOM WSI's de-identified study UID kept for the record). */
  queue(id: string, o: { sha256: string; bytes: number; study: string | null }): void {
    this.move(id, ['received'], 'queued', { output_sha256: o.sha256, output_bytes: o.bytes, study_uid: o.study, last_error: null })
  }

  quarantine(id: string, reason: string): void {
    this.move(id, ['received', 'queued', 'retry'], 'quarantined', { last_error: reason, outcome: 'quarantined' })
  }

  /** The slide source's own rows in `state`, oldest first. */
  inState(source: string, states: readonly string[], limit = 100): SlideRow[] {
    return this.db.prepare(`SELECT * FROM objects WHERE kind = 'slide' AND source = ? AND state IN (${states.map(() => '?').join(',')}) ORDER BY received_at LIMIT ?`).all(source, ...states, limit) as SlideRow[]
  }

  /** The next slide due for upload, claimed (attempts counted). */
  claim(source: string): SlideRow | undefined {
    return this.db.transaction(() => {
      const r = this.db.prepare('SELECT * FROM objects WHERE kind = \'slide\' AND source = ? AND state IN (\'queued\', \'retry\') AND next_attempt_at <= ? ORDER BY next_attempt_at, received_at LIMIT 1').get(source, Date.now()) as SlideRow | undefined
      if (!r) return undefined
      this.move(r.id, ['queued', 'retry'], 'uploading', { attempts: r.attempts + 1 })
      return { ...r, state: 'uploading' as const, attempts: r.attempts + 1 }
    })()
  }

  confirm(id: string, outcome: string): void {
    this.move(id, ['uploading'], 'confirmed', { outcome, last_error: null })
  }

  fail(id: string, outcome: string, reason: string, from: readonly string[] = ['uploading']): void {
    this.move(id, from, 'failed', { outcome, last_error: reason })
  }

  retry(id: string, reason: string, at: number): void {
    this.move(id, ['uploading'], 'retry', { last_error: reason, next_attempt_at: at })
  }

  /** Back to the queue, no attempt counted (shutdown, or the token file is not usable yet). */
  release(id: string, at = 0): void {
    const r = this.get(id)
    this.move(id, ['uploading'], 'queued', { attempts: Math.max(0, (r?.attempts ?? 1) - 1), next_attempt_at: at })
  }

  /** After a crash: claimed uploads go back to the queue (the tus upload resumes from the hub's offset). */
  requeueUploading(source: string): number {
    return this.db.prepare('UPDATE objects SET state = \'queued\', updated_at = ? WHERE kind = \'slide\' AND source = ? AND state IN (\'uploading\', \'deidentified\')').run(Date.now(), source).changes
  }
}
