/**
 * @module CSV (RFC 4180) of image-level labels: one row per label, sorted by target then code then id so the same
 * labels give the same bytes. Fields with a comma, quote or line break are quoted; a field that a spreadsheet
 * would run as a formula (= + - @ at the start) is prefixed with a single quote (OWASP CSV injection advice).
 */
import type { ImageLabel } from '../model.ts'

export const IMAGE_LABEL_COLUMNS = ['target_kind', 'slide_id', 'study_instance_uid', 'series_instance_uid', 'sop_instance_uid', 'frame', 'system', 'code', 'version', 'author', 'status', 'confidence', 'task_id', 'created_at', 'label_id'] as const

function field(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return ''
  let s = String(v)
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

const targetKey = (l: ImageLabel) => (l.target.kind === 'slide' ? `slide:${l.target.slideId}` : `instance:${l.target.sopInstanceUid}:${l.target.frame ?? ''}`)

export function imageLabelsCsv(labels: ImageLabel[]): string {
  const rows = [...labels].sort((a, b) => {
    const ka = `${targetKey(a)}\u0000${a.label.system}\u0000${a.label.code}\u0000${a.id}`
    const kb = `${targetKey(b)}\u0000${b.label.system}\u0000${b.label.code}\u0000${b.id}`
    return ka < kb ? -1 : ka > kb ? 1 : 0
  })
  const lines = [IMAGE_LABEL_COLUMNS.join(',')]
  for (const l of rows) {
    const t = l.target
    lines.push(
      [
        t.kind,
        t.kind === 'slide' ? t.slideId : null,
        t.kind === 'instance' ? t.studyInstanceUid : null,
        t.kind === 'instance' ? t.seriesInstanceUid : null,
        t.kind === 'instance' ? t.sopInstanceUid : null,
        t.kind === 'instance' ? (t.frame ?? null) : null,
        l.label.system,
        l.label.code,
        l.label.version ?? null,
        l.author,
        l.status,
        l.confidence,
        l.taskId,
        l.createdAt,
        l.id,
      ]
        .map(field)
        .join(','),
    )
  }
  return lines.join('\r\n') + '\r\n'
}
