/**
 * @module A task's agreement report from its readers' submitted work: kappa for image-level labels,
 * Dice/IoU for regions and F1 for points, per label, per annotator pair and per annotator.
 *
 * Pure: the task service loads the rows, this computes. Only readers who submitted an item count for it
 * (a reader still drawing is not disagreeing). Labels are opaque keys (`system:code`).
 */
import type { Geometry } from '../../annotations/model.ts'
import { cohenKappa, fleissKappa, perLabelKappa, type GroupAgreement, type LabelAgreement, type PairAgreement, type RatingPair } from './kappa.ts'
import { meanOf, type MetricValue } from './metric.ts'
import { matchPoints, pointsOf, type PointMatch } from './points.ts'
import { overlap, polygonsOf, unionOf, type Overlap } from './regions.ts'

export interface AgreementInput {
  /** Item id → the readers who submitted it. */
  submitted: ReadonlyMap<string, readonly string[]>
  annotations: readonly { item: string; rater: string; label: string; geometry: Geometry }[]
  imageLabels: readonly { item: string; rater: string; label: string }[]
  /** Whether the task asks for regions: then two readers who both drew none on an item agree (Dice 1). */
  regions: boolean
  /** Points closer than this (pixels) may match. */
  pointRadius: number
}

export interface RegionEntry extends Overlap {
  item: string
  /** null: neither reader drew any region on the item (the both-empty convention). */
  label: string | null
  a: string
  b: string
}

export interface PointEntry extends PointMatch {
  item: string
  label: string
  a: string
  b: string
}

export interface MeanOverlap {
  items: number
  dice: MetricValue
  iou: MetricValue
}

export interface AgreementReport {
  raters: string[]
  items: number
  imageLabels: {
    /** Fleiss' kappa over all readers; each reading is the reader's label set as one category. */
    overall: GroupAgreement
    /** Cohen's kappa per reader pair. */
    pairs: (PairAgreement & { a: string; b: string })[]
    /** One-vs-rest Fleiss' kappa per label. */
    perLabel: LabelAgreement[]
  }
  regions: {
    perItem: RegionEntry[]
    /** Per reader pair, per label (label null: every label of the pair's items together). */
    pairs: (MeanOverlap & { a: string; b: string; label: string | null })[]
    perLabel: (MeanOverlap & { label: string })[]
    /** Each reader's mean overlap with every other reader. */
    perAnnotator: (MeanOverlap & { rater: string })[]
  }
  points: {
    radius: number
    perItem: PointEntry[]
    pairs: { a: string; b: string; label: string | null; items: number; matched: number; countA: number; countB: number; f1: MetricValue }[]
  }
}

export function taskAgreement(input: AgreementInput): AgreementReport {
  const items = [...input.submitted.keys()].sort()
  const raters = [...new Set([...input.submitted.values()].flat())].sort()
  const done = (item: string, rater: string) => input.submitted.get(item)?.includes(rater) ?? false

  // Image-level labels: each submitted reader's label set per item.
  const labelSets = new Map<string, Map<string, Set<string>>>()
  for (const l of input.imageLabels) {
    if (!done(l.item, l.rater)) continue
    const byRater = labelSets.get(l.item) ?? new Map<string, Set<string>>()
    labelSets.set(l.item, byRater)
    const set = byRater.get(l.rater) ?? new Set<string>()
    byRater.set(l.rater, set)
    set.add(l.label)
  }
  const category = (s: Set<string>) => [...s].sort().join(' + ')
  const itemRatings = items.map((item) => [...(labelSets.get(item)?.values() ?? [])])
  const labelPairs: AgreementReport['imageLabels']['pairs'] = []
  for (const [a, b] of pairsOf(raters)) {
    const pairs: RatingPair[] = []
    for (const item of items) {
      const byRater = labelSets.get(item)
      const x = byRater?.get(a)
      const y = byRater?.get(b)
      if (x && y) pairs.push([category(x), category(y)])
    }
    if (pairs.length) labelPairs.push({ a, b, ...cohenKappa(pairs) })
  }
  const imageLabels = {
    overall: fleissKappa(itemRatings.map((r) => r.map(category))),
    pairs: labelPairs,
    perLabel: perLabelKappa(itemRatings.map((r) => r.map((s) => [...s]))),
  }

  // Regions and points, grouped per item, reader and label.
  const areas = new Map<string, Map<string, Map<string, Geometry[]>>>()
  const points = new Map<string, Map<string, Map<string, Geometry[]>>>()
  for (const an of input.annotations) {
    if (!done(an.item, an.rater)) continue
    const into = polygonsOf(an.geometry).length ? areas : pointsOf(an.geometry).length ? points : null
    if (!into) continue // polylines carry no area and no position to match
    const byRater = into.get(an.item) ?? new Map<string, Map<string, Geometry[]>>()
    into.set(an.item, byRater)
    const byLabel = byRater.get(an.rater) ?? new Map<string, Geometry[]>()
    byRater.set(an.rater, byLabel)
    byLabel.set(an.label, [...(byLabel.get(an.label) ?? []), an.geometry])
  }

  const regionEntries: RegionEntry[] = []
  const pointEntries: PointEntry[] = []
  for (const item of items) {
    const submitted = [...(input.submitted.get(item) ?? [])].sort()
    for (const [a, b] of pairsOf(submitted)) {
      const ra = areas.get(item)?.get(a) ?? new Map<string, Geometry[]>()
      const rb = areas.get(item)?.get(b) ?? new Map<string, Geometry[]>()
      const labels = [...new Set([...ra.keys(), ...rb.keys()])].sort()
      if (!labels.length && input.regions) regionEntries.push({ item, label: null, a, b, ...overlap([], []) })
      for (const label of labels) regionEntries.push({ item, label, a, b, ...overlap(unionOf(ra.get(label) ?? []), unionOf(rb.get(label) ?? [])) })
      const pa = points.get(item)?.get(a) ?? new Map<string, Geometry[]>()
      const pb = points.get(item)?.get(b) ?? new Map<string, Geometry[]>()
      for (const label of [...new Set([...pa.keys(), ...pb.keys()])].sort()) {
        const m = matchPoints((pa.get(label) ?? []).flatMap(pointsOf), (pb.get(label) ?? []).flatMap(pointsOf), input.pointRadius)
        pointEntries.push({ item, label, a, b, ...m })
      }
    }
  }

  const meanOverlap = (entries: RegionEntry[]): MeanOverlap => ({
    items: new Set(entries.map((e) => e.item)).size,
    dice: meanOf(entries.map((e) => e.dice), 'item'),
    iou: meanOf(entries.map((e) => e.iou), 'item'),
  })
  const regionPairs: AgreementReport['regions']['pairs'] = []
  const pointPairs: AgreementReport['points']['pairs'] = []
  for (const [a, b] of pairsOf(raters)) {
    const mine = regionEntries.filter((e) => e.a === a && e.b === b)
    if (mine.length) regionPairs.push({ a, b, label: null, ...meanOverlap(mine) })
    for (const label of distinct(mine.map((e) => e.label))) regionPairs.push({ a, b, label, ...meanOverlap(mine.filter((e) => e.label === label)) })
    const pts = pointEntries.filter((e) => e.a === a && e.b === b)
    const sumUp = (label: string | null, es: PointEntry[]) => {
      const matched = es.reduce((s, e) => s + e.matched, 0)
      const countA = es.reduce((s, e) => s + e.countA, 0)
      const countB = es.reduce((s, e) => s + e.countB, 0)
      // Pooled over items: every point weighs the same, however the points spread over items.
      pointPairs.push({ a, b, label, items: new Set(es.map((e) => e.item)).size, matched, countA, countB, f1: { value: (2 * matched) / (countA + countB) } })
    }
    if (pts.length) sumUp(null, pts)
    for (const label of distinct(pts.map((e) => e.label))) sumUp(label, pts.filter((e) => e.label === label))
  }

  return {
    raters,
    items: items.length,
    imageLabels,
    regions: {
      perItem: regionEntries,
      pairs: regionPairs,
      perLabel: distinct(regionEntries.map((e) => e.label)).map((label) => ({ label, ...meanOverlap(regionEntries.filter((e) => e.label === label)) })),
      perAnnotator: raters
        .map((rater) => ({ rater, ...meanOverlap(regionEntries.filter((e) => e.a === rater || e.b === rater)) }))
        .filter((r) => r.items > 0),
    },
    points: { radius: input.pointRadius, perItem: pointEntries, pairs: pointPairs },
  }
}

function pairsOf(xs: readonly string[]): [string, string][] {
  const out: [string, string][] = []
  for (let i = 0; i < xs.length; i++) for (let j = i + 1; j < xs.length; j++) out.push([xs[i]!, xs[j]!])
  return out
}

function distinct(xs: (string | null)[]): string[] {
  return [...new Set(xs.filter((x): x is string => x !== null))].sort()
}
