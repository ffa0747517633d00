/**
 * @module Which attributes belong to which level of the archive (patient/study, series, instance).
 *
 * QIDO-RS answers a study or series search from the level's stored JSON, so these lists are
 * what a search can return without opening an instance: PS3.18 Table 10.6.3-3 (study),
 * 10.6.3-4 (series) and 10.6.3-5 (instance) plus the Patient and General Study modules.
 */

/** Patient module attributes kept at study level (a study search returns them). */
const PATIENT = [
  '00100010', '00100020', '00100021', '00100030', '00100032', '00100040', '00101000', '00101001', '00101010',
  '00101020', '00101030', '00102160', '00104000', '00120062', '00120063', '00120064',
]

/** General Study and Patient Study module attributes. */
const STUDY = [
  '00080005', '00080020', '00080030', '00080050', '00080051', '00080090', '00080201', '00081030', '00081032',
  '00081060', '00081080', '0020000D', '00200010', '00321060', '00080096',
]

/** General Series module attributes, plus the few QIDO series keys from other modules. */
const SERIES = [
  '00080021', '00080031', '00080060', '00080070', '0008103E', '00081010', '00081050', '00081070', '00081090',
  '00180015', '00185100', '0020000E', '00200011', '00200052', '00200060', '00400244', '00400245', '00400275',
  '00400253', '00400254',
]

export const STUDY_LEVEL_TAGS: ReadonlySet<string> = new Set([...PATIENT, ...STUDY])
export const SERIES_LEVEL_TAGS: ReadonlySet<string> = new Set(['00080005', ...SERIES])

/** Picks the attributes of `json` whose tags are in `tags`, keeping tag order. */
export function pickLevel<T>(json: Record<string, T>, tags: ReadonlySet<string>): Record<string, T> {
  const out: Record<string, T> = {}
  for (const k in json) if (tags.has(k)) out[k] = json[k]!
  return out
}
