/**
 * @module The agreement report as CSV (RFC 4180), one metric per row, for spreadsheets and statistics
 * packages: `scope,label,rater_a,rater_b,metric,value,n,reason`. An undefined metric has an empty value
 * and its reason.
 */
import type { AgreementReport } from './task-agreement.ts'
import type { MetricValue } from './metric.ts'

const HEADER = ['scope', 'label', 'rater_a', 'rater_b', 'metric', 'value', 'n', 'reason']

/** `names` turns rater ids into what the reader should see (user names). */
export function agreementCsv(r: AgreementReport, names: (rater: string) => string = (x) => x): string {
  const rows: string[][] = [HEADER]
  const add = (scope: string, label: string | null, a: string | null, b: string | null, name: string, m: MetricValue, n: number) =>
    rows.push([scope, label ?? '', a ? names(a) : '', b ? names(b) : '', name, m.value === null ? '' : String(m.value), String(n), m.reason ?? ''])
  add('image-labels', null, null, null, 'fleiss_kappa', r.imageLabels.overall.kappa, r.imageLabels.overall.items)
  add('image-labels', null, null, null, 'percent_agreement', r.imageLabels.overall.percentAgreement, r.imageLabels.overall.items)
  for (const p of r.imageLabels.pairs) {
    add('image-labels', null, p.a, p.b, 'cohen_kappa', p.kappa, p.items)
    add('image-labels', null, p.a, p.b, 'percent_agreement', p.percentAgreement, p.items)
  }
  for (const l of r.imageLabels.perLabel) add('image-labels', l.label, null, null, 'fleiss_kappa_one_vs_rest', l.kappa, l.items)
  for (const p of r.regions.pairs) {
    add('regions', p.label, p.a, p.b, 'dice', p.dice, p.items)
    add('regions', p.label, p.a, p.b, 'iou', p.iou, p.items)
  }
  for (const l of r.regions.perLabel) {
    add('regions', l.label, null, null, 'dice', l.dice, l.items)
    add('regions', l.label, null, null, 'iou', l.iou, l.items)
  }
  for (const a of r.regions.perAnnotator) {
    add('regions', null, a.rater, null, 'dice', a.dice, a.items)
    add('regions', null, a.rater, null, 'iou', a.iou, a.items)
  }
  for (const p of r.points.pairs) add(`points (radius ${r.points.radius})`, p.label, p.a, p.b, 'f1', p.f1, p.items)
  return rows.map((row) => row.map(cell).join(',')).join('\r\n') + '\r\n'
}

function cell(v: string): string {
  // Leading = + - @ would be formulas in a spreadsheet: prefix with ' (OWASP CSV injection advice).
  const safe = /^[=+\-@\t\r]/.test(v) && !/^-?\d/.test(v) ? `'${v}` : v
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe
}
