/** @module The summary printed after sending objects to a hub (import and demo), on stdout. */
import type { IngestSummary } from './ingest.ts'
import { formatBytes, formatDuration } from './progress.ts'

const MAX_LISTED = 20

export function formatSummary(s: IngestSummary, what: string): string {
  const secs = Math.max(0.001, s.elapsedMs / 1000)
  const lines = [`${what}: ${s.files} file${s.files === 1 ? '' : 's'} (${formatBytes(s.bytes)}) in ${formatDuration(s.elapsedMs)}, ${(s.files / secs).toFixed(1)} files/s`]
  const rows: Array<[string, number]> = [['stored', s.counts.stored]]
  if (s.counts.accepted > 0) rows.push(['stored or already there', s.counts.accepted])
  rows.push(['duplicates', s.counts.duplicate], ['conflicts', s.counts.conflict], ['rejected', s.counts.rejected])
  const w = Math.max(...rows.map(([k]) => k.length))
  for (const [k, n] of rows) lines.push(`  ${k.padEnd(w)}  ${n}`)
  if (s.problems.length > 0) {
    lines.push('', `Not stored (${s.problems.length}):`)
    for (const p of s.problems.slice(0, MAX_LISTED)) {
      lines.push(`  ${p.item.label}`, `    ${p.status}: ${p.reason ?? p.code ?? 'no reason given'}${p.code && !(p.reason ?? '').includes(p.code) ? ` [${p.code}]` : ''}`)
    }
    if (s.problems.length > MAX_LISTED) lines.push(`  … and ${s.problems.length - MAX_LISTED} more`)
  }
  return lines.join('\n') + '\n'
}
