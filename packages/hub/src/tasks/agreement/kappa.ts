/**
 * @module Chance-corrected agreement of categorical ratings (image-level labels): percent agreement,
 * Cohen's kappa for two raters, Fleiss' kappa for any number, and one-vs-rest kappa per label.
 *
 * A rating is a category string (the task service makes one from a reader's label set). Kappa is
 * (p_o − p_e) / (1 − p_e): when p_e = 1 (every rating in one category) it is 0/0, so it is reported as
 * null with that reason, while percent agreement (1 then) is still given.
 */
import { metric, undefinedMetric, type MetricValue } from './metric.ts'

/** Rater a's and rater b's category for the same item. */
export type RatingPair = readonly [string, string]

export interface PairAgreement {
  /** Items both raters rated. */
  items: number
  percentAgreement: MetricValue
  kappa: MetricValue
}

/**
 * Cohen's kappa (Cohen 1960): p_o = share of items with equal categories; p_e = Σ_k p_a(k)·p_b(k), with
 * p_a(k) the share of a's ratings in category k.
 */
export function cohenKappa(pairs: readonly RatingPair[]): PairAgreement {
  const n = pairs.length
  if (n === 0) return { items: 0, percentAgreement: undefinedMetric('no item was rated by both raters'), kappa: undefinedMetric('no item was rated by both raters') }
  const a = new Map<string, number>()
  const b = new Map<string, number>()
  let agree = 0
  for (const [x, y] of pairs) {
    if (x === y) agree++
    a.set(x, (a.get(x) ?? 0) + 1)
    b.set(y, (b.get(y) ?? 0) + 1)
  }
  const po = agree / n
  let pe = 0
  for (const [k, ca] of a) pe += (ca / n) * ((b.get(k) ?? 0) / n)
  return { items: n, percentAgreement: metric(po), kappa: kappaOf(po, pe) }
}

export interface GroupAgreement {
  /** Items with at least two ratings (the others cannot show agreement and are left out). */
  items: number
  /** Ratings counted, over those items. */
  ratings: number
  /** P̄: the mean over items of the share of agreeing rater pairs. */
  percentAgreement: MetricValue
  kappa: MetricValue
}

/**
 * Fleiss' kappa (Fleiss 1971). Per item i with n_i ratings and n_ij of them in category j:
 * P_i = (Σ_j n_ij² − n_i) / (n_i(n_i − 1)), the share of agreeing ordered rater pairs; P̄ = mean P_i;
 * p_j = Σ_i n_ij / Σ_i n_i; P̄e = Σ_j p_j²; κ = (P̄ − P̄e)/(1 − P̄e). With the same number of raters on every
 * item this is exactly Fleiss' statistic; items may have different numbers of ratings (an annotator who has
 * not submitted yet), which weights p_j by ratings, the usual generalisation. Items with fewer than two
 * ratings are left out.
 */
export function fleissKappa(items: readonly (readonly string[])[]): GroupAgreement {
  const rated = items.filter((r) => r.length >= 2)
  if (!rated.length) return { items: 0, ratings: 0, percentAgreement: undefinedMetric('no item has two or more ratings'), kappa: undefinedMetric('no item has two or more ratings') }
  const totals = new Map<string, number>()
  let ratings = 0
  let sumP = 0
  for (const r of rated) {
    const counts = new Map<string, number>()
    for (const c of r) counts.set(c, (counts.get(c) ?? 0) + 1)
    let sq = 0
    for (const [c, k] of counts) {
      sq += k * k
      totals.set(c, (totals.get(c) ?? 0) + k)
    }
    const n = r.length
    sumP += (sq - n) / (n * (n - 1))
    ratings += n
  }
  const pBar = sumP / rated.length
  let pe = 0
  for (const k of totals.values()) pe += (k / ratings) ** 2
  return { items: rated.length, ratings, percentAgreement: metric(pBar), kappa: kappaOf(pBar, pe) }
}

export interface LabelAgreement extends GroupAgreement {
  label: string
  /** Ratings that named the label. */
  positives: number
}

/**
 * One-vs-rest agreement per label: each rating becomes "has the label" or "has not", then Fleiss' kappa
 * (which for two raters on every item differs from Cohen's only in how chance is estimated: pooled
 * marginals instead of each rater's own). A rating is a set of labels, so multi-label readings work.
 */
export function perLabelKappa(items: readonly (readonly (readonly string[])[])[]): LabelAgreement[] {
  const labels = new Set<string>()
  for (const item of items) for (const rating of item) for (const l of rating) labels.add(l)
  return [...labels].sort().map((label) => {
    let positives = 0
    const binary = items.map((item) =>
      item.map((rating) => {
        const has = rating.includes(label)
        if (has) positives++
        return has ? 'yes' : 'no'
      }),
    )
    return { label, positives, ...fleissKappa(binary) }
  })
}

function kappaOf(po: number, pe: number): MetricValue {
  // Exact 1 is the only case (all ratings in one category); a tolerance keeps float residue out.
  if (pe >= 1 - 1e-12) return undefinedMetric('chance agreement is 1 (every rating is in one category), so kappa is 0/0: undefined')
  return metric((po - pe) / (1 - pe))
}
