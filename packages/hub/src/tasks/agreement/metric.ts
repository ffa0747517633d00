/**
 * @module A metric's value, or why there is none. Kappa is undefined when chance agreement is 1 and a
 * pairwise metric needs at least one rated item; the API says so in words (`reason`) instead of
 * sending NaN, which JSON cannot carry and a reader could not interpret.
 */

export interface MetricValue {
  /** The value, or null when the metric is undefined for these data. */
  value: number | null
  /** Why `value` is null (absent when there is a value). */
  reason?: string
}

export const metric = (value: number): MetricValue => ({ value })
export const undefinedMetric = (reason: string): MetricValue => ({ value: null, reason })

/** The mean of the defined values, or null with a reason when none is defined. */
export function meanOf(values: MetricValue[], what: string): MetricValue {
  const defined = values.filter((v) => v.value !== null).map((v) => v.value as number)
  if (!defined.length) return undefinedMetric(`no ${what} with a defined value`)
  return metric(defined.reduce((a, b) => a + b, 0) / defined.length)
}
