/** @module The versioned de-identification policy document: its typed form and a validator that names every bad field by JSON path. */
import { tagOf } from '@kura/dicom'
import type { Action } from '../profile/action.ts'
import { OPTIONS, isOption, type Option } from '../profile/options.ts'
import { PolicyErrors, type PolicyProblem } from './errors.ts'

export const ACTIONS: readonly Action[] = ['D', 'Z', 'X', 'K', 'C', 'U']

/** A per-attribute replacement for the Table E.1-1 action (PS3.15 E.1.1 allows stricter or documented deviations). */
export interface PolicyOverride {
  readonly tag: number
  readonly action: Action
}

/** One element of a private block, `ggggxxee`: odd group gggg, any block xx, element offset ee (PS3.5 7.8.1). */
export interface PrivateElement {
  readonly group: number
  readonly element: number
}

/** Private attributes known safe for one Private Creator (PS3.15 E.3.10 Retain Safe Private Option). */
export interface SafePrivateRule {
  readonly creator: string
  readonly elements: readonly PrivateElement[]
}

/** [x, y, width, height] in pixels, origin at the top-left pixel, x along columns, y along rows. */
export type Rect = readonly [number, number, number, number]

/**
 * Burned-in regions to blank for matching images (PS3.15 E.3.1 Clean Pixel Data Option): every key of `match`
 * is a DICOM keyword whose value must equal the given string or number.
 */
export interface PixelMask {
  readonly match: Readonly<Record<string, string | number>>
  readonly rects: readonly Rect[]
}

export interface Policy {
  /** Stable name, quoted in De-identification Method (0012,0063) of every output. */
  readonly id: string
  /** The policy's own version; a change in behaviour must change it, so outputs say which rules made them. */
  readonly version: string
  /** The Annex E profile the options modify; only the Basic Application Level Confidentiality Profile for now. */
  readonly profile: 'basic'
  readonly description?: string
  readonly options: ReadonlySet<Option>
  readonly overrides: readonly PolicyOverride[]
  readonly safePrivate: readonly SafePrivateRule[]
  readonly pixelMasks: readonly PixelMask[]
  /** Slide files (SVS, NDPI, tiled TIFF): what happens to the macro image. Defaults: the macro is removed. */
  readonly slides: SlidePolicy
}

/** What slide de-identification does with the macro (the photograph of the whole glass); the label image is always removed. */
export type MacroAction = 'remove' | 'keep-with-label-blacked-out'
export const MACRO_ACTIONS: readonly MacroAction[] = ['remove', 'keep-with-label-blacked-out']
/**
 * Vendors whose macro can be kept (as @kura/deid's slide classifier names them). Generic TIFFs are not among them:
 * OpenSlide and @kura/wsi show no associated images for them, so a kept macro could not be verified; it is removed.
 */
export type SlideVendorName = 'aperio' | 'hamamatsu'
export const SLIDE_VENDORS: readonly SlideVendorName[] = ['aperio', 'hamamatsu']
/** [x, y, width, height] as fractions (0-1) of the macro's width and height, origin at its top-left pixel. */
export type FractionRect = readonly [number, number, number, number]

export interface SlidePolicy {
  readonly macro: MacroAction
  /** Where the paper label lies on each vendor's macro. */
  readonly macroLabelArea: Readonly<Record<SlideVendorName, FractionRect>>
}

/**
 * Default label areas. Aperio and Hamamatsu macros photograph the whole glass lying horizontally with the paper
 * label at one end, which on the files we know (CMU samples, our synth) is the left end. We found no published
 * description of the exact extent, so the default is conservative: the left 40% of the macro, full height (a
 * 75 × 25 mm slide's label is about 20-25 mm, a third or less). A site whose scanner puts the label elsewhere
 * (the other end, rotated) must give its own area.
 */
export const DEFAULT_MACRO_LABEL_AREA: Readonly<Record<SlideVendorName, FractionRect>> = Object.freeze({
  aperio: Object.freeze([0, 0, 0.4, 1] as const),
  hamamatsu: Object.freeze([0, 0, 0.4, 1] as const),
})
export const DEFAULT_SLIDE_POLICY: SlidePolicy = Object.freeze({ macro: 'remove' as const, macroLabelArea: DEFAULT_MACRO_LABEL_AREA })

const KEYS = ['id', 'version', 'profile', 'description', 'options', 'overrides', 'safePrivate', 'pixelMasks', 'slides'] as const
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const VERSION_RE = /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,15}$/
const HEX8 = /^[0-9A-Fa-f]{8}$/
const PRIVATE_RE = /^([0-9A-Fa-f]{4})xx([0-9A-Fa-f]{2})$/i

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const show = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v)
  return s.length > 40 ? `${s.slice(0, 40)}…` : s
}
const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

/**
 * Validates a parsed JSON policy and returns its typed, frozen form. Collects every problem and throws one
 * DEID_POLICY_INVALID listing each JSON path and what it expects; unknown keys are errors, so a typo cannot
 * silently drop a rule.
 */
export function parsePolicy(json: unknown, source?: string): Policy {
  const problems: PolicyProblem[] = []
  // `got` is optional and may itself be undefined-like, so its presence is told by the rest array's length.
  const bad = (path: string, expected: string, ...got: unknown[]): void => {
    problems.push({ path, expected: got.length > 0 ? `${expected}, got ${show(got[0])}` : expected })
  }
  if (!isObj(json)) throw PolicyErrors.invalid([{ path: '$', expected: `a JSON object, got ${show(json)}` }], source)
  for (const k of Object.keys(json)) if (!(KEYS as readonly string[]).includes(k)) bad(`$.${k}`, `no such field; allowed: ${KEYS.join(', ')}`)

  const id = json.id
  if (typeof id !== 'string' || !ID_RE.test(id)) bad('$.id', 'a string of 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit', id ?? null)
  const version = json.version
  if (typeof version !== 'string' || !VERSION_RE.test(version)) bad('$.version', 'a version string of 1-16 letters, digits, ".", "+", "_" or "-", e.g. "1.2.0"', version ?? null)
  if (json.profile !== 'basic') bad('$.profile', 'the string "basic" (PS3.15 E.1 Basic Application Level Confidentiality Profile)', json.profile ?? null)
  if (json.description !== undefined && typeof json.description !== 'string') bad('$.description', 'a string', json.description)

  const options = new Set<Option>()
  if (json.options !== undefined) {
    if (!Array.isArray(json.options)) bad('$.options', 'an array of option names', json.options)
    else
      json.options.forEach((o, i) => {
        if (typeof o === 'string' && isOption(o)) options.add(o)
        else bad(`$.options[${i}]`, `one of ${OPTIONS.join(', ')}`, o)
      })
  }

  const overrides: PolicyOverride[] = []
  if (json.overrides !== undefined) {
    if (!Array.isArray(json.overrides)) bad('$.overrides', 'an array of { "tag" | "keyword", "action" } objects', json.overrides)
    else {
      const seen = new Map<number, number>()
      json.overrides.forEach((o, i) => {
        const p = `$.overrides[${i}]`
        if (!isObj(o)) return bad(p, 'an object with "tag" (8 hex digits) or "keyword", and "action"', o)
        for (const k of Object.keys(o)) if (!['tag', 'keyword', 'action'].includes(k)) bad(`${p}.${k}`, 'no such field; allowed: tag, keyword, action')
        let tag: number | undefined
        if (o.tag !== undefined && o.keyword !== undefined) bad(p, 'either "tag" or "keyword", not both')
        else if (o.tag !== undefined) {
          if (typeof o.tag === 'string' && HEX8.test(o.tag)) tag = parseInt(o.tag, 16) >>> 0
          else bad(`${p}.tag`, 'a tag as 8 hex digits, e.g. "00100040"', o.tag)
        } else if (o.keyword !== undefined) {
          tag = typeof o.keyword === 'string' && !HEX8.test(o.keyword) ? tagOf(o.keyword) : undefined
          if (tag === undefined) bad(`${p}.keyword`, 'a DICOM data dictionary keyword, e.g. "PatientAge"', o.keyword)
        } else bad(p, 'a "tag" (8 hex digits) or a "keyword"')
        const action = o.action
        if (typeof action !== 'string' || !(ACTIONS as readonly string[]).includes(action)) bad(`${p}.action`, `one of ${ACTIONS.join(', ')} (PS3.15 Table E.1-1 action codes)`, action ?? null)
        if (tag !== undefined) {
          const prev = seen.get(tag)
          if (prev !== undefined) bad(p, `a tag not already overridden (same attribute as $.overrides[${prev}])`)
          else seen.set(tag, i)
          if (typeof action === 'string' && (ACTIONS as readonly string[]).includes(action)) overrides.push({ tag, action: action as Action })
        }
      })
    }
  }

  const safePrivate: SafePrivateRule[] = []
  if (json.safePrivate !== undefined) {
    if (!Array.isArray(json.safePrivate)) bad('$.safePrivate', 'an array of { "creator", "elements" } objects', json.safePrivate)
    else
      json.safePrivate.forEach((r, i) => {
        const p = `$.safePrivate[${i}]`
        if (!isObj(r)) return bad(p, 'an object with "creator" and "elements"', r)
        for (const k of Object.keys(r)) if (!['creator', 'elements'].includes(k)) bad(`${p}.${k}`, 'no such field; allowed: creator, elements')
        // Private Creator is LO: up to 64 characters, no backslash or control characters (PS3.5 6.2, 7.8.1).
        const creator = r.creator
        const creatorOk = typeof creator === 'string' && creator.trim().length > 0 && creator.length <= 64 && !/[\\\x00-\x1f]/.test(creator)
        if (!creatorOk) bad(`${p}.creator`, 'the Private Creator string (LO, 1-64 characters, no backslash)', creator ?? null)
        const elements: PrivateElement[] = []
        if (!Array.isArray(r.elements) || r.elements.length === 0) bad(`${p}.elements`, 'a non-empty array of "ggggxxee" strings, e.g. "0019xx10"', r.elements ?? null)
        else
          r.elements.forEach((e, j) => {
            const m = typeof e === 'string' ? PRIVATE_RE.exec(e) : null
            const group = m ? parseInt(m[1]!, 16) : NaN
            // Odd groups only, and not 0001-0007 or FFFF, which PS3.5 7.8.1 forbids for private data.
            if (!m || group % 2 === 0 || group <= 0x0007 || group === 0xffff) bad(`${p}.elements[${j}]`, 'a private element "ggggxxee" with an odd group above 0007, e.g. "0019xx10"', e)
            else elements.push({ group, element: parseInt(m[2]!, 16) })
          })
        if (creatorOk && elements.length > 0) safePrivate.push({ creator: (creator as string).trim(), elements })
      })
  }

  const pixelMasks: PixelMask[] = []
  if (json.pixelMasks !== undefined) {
    if (!Array.isArray(json.pixelMasks)) bad('$.pixelMasks', 'an array of { "match", "rects" } objects', json.pixelMasks)
    else
      json.pixelMasks.forEach((pm, i) => {
        const p = `$.pixelMasks[${i}]`
        if (!isObj(pm)) return bad(p, 'an object with "match" and "rects"', pm)
        for (const k of Object.keys(pm)) if (!['match', 'rects'].includes(k)) bad(`${p}.${k}`, 'no such field; allowed: match, rects')
        const match: Record<string, string | number> = {}
        if (!isObj(pm.match) || Object.keys(pm.match).length === 0) bad(`${p}.match`, 'a non-empty object of DICOM keyword → string or number', pm.match ?? null)
        else
          for (const [k, v] of Object.entries(pm.match)) {
            if (HEX8.test(k) || tagOf(k) === undefined) bad(`${p}.match.${k}`, 'a DICOM data dictionary keyword as the key, e.g. "Manufacturer"')
            else if (typeof v !== 'string' && !(typeof v === 'number' && Number.isFinite(v))) bad(`${p}.match.${k}`, 'a string or a number', v)
            else match[k] = v
          }
        const cols = typeof match.Columns === 'number' ? match.Columns : undefined
        const rows = typeof match.Rows === 'number' ? match.Rows : undefined
        const rects: Rect[] = []
        if (!Array.isArray(pm.rects) || pm.rects.length === 0) bad(`${p}.rects`, 'a non-empty array of [x, y, width, height]', pm.rects ?? null)
        else
          pm.rects.forEach((r, j) => {
            const rp = `${p}.rects[${j}]`
            if (!Array.isArray(r) || r.length !== 4 || !r.every(isUint) || r[2] === 0 || r[3] === 0)
              return bad(rp, '[x, y, width, height]: whole pixels, x and y >= 0, width and height >= 1', r)
            const [x, y, w, h] = r as number[]
            if (cols !== undefined && x! + w! > cols) return bad(rp, `x + width <= Columns (${cols})`, r)
            if (rows !== undefined && y! + h! > rows) return bad(rp, `y + height <= Rows (${rows})`, r)
            rects.push([x!, y!, w!, h!])
          })
        pixelMasks.push({ match: Object.freeze(match), rects: Object.freeze(rects) })
      })
  }

  const slides = parseSlides(json.slides, bad)

  if (problems.length > 0) throw PolicyErrors.invalid(problems, source)
  return Object.freeze({
    id: id as string,
    version: version as string,
    profile: 'basic' as const,
    ...(typeof json.description === 'string' ? { description: json.description } : {}),
    options,
    overrides: Object.freeze(overrides),
    safePrivate: Object.freeze(safePrivate),
    pixelMasks: Object.freeze(pixelMasks),
    slides,
  })
}

const isFraction = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1

/** The `slides` section; absent fields take today's behaviour (macro removed, default label areas). */
function parseSlides(v: unknown, bad: (path: string, expected: string, ...got: unknown[]) => void): SlidePolicy {
  if (v === undefined) return DEFAULT_SLIDE_POLICY
  if (!isObj(v)) {
    bad('$.slides', 'an object with "macro" and optionally "macroLabelArea"', v)
    return DEFAULT_SLIDE_POLICY
  }
  for (const k of Object.keys(v)) if (!['macro', 'macroLabelArea'].includes(k)) bad(`$.slides.${k}`, 'no such field; allowed: macro, macroLabelArea')
  let macro: MacroAction = 'remove'
  if (v.macro !== undefined) {
    if (typeof v.macro === 'string' && (MACRO_ACTIONS as readonly string[]).includes(v.macro)) macro = v.macro as MacroAction
    else bad('$.slides.macro', `one of ${MACRO_ACTIONS.map((a) => `"${a}"`).join(', ')}`, v.macro)
  }
  const area: Record<SlideVendorName, FractionRect> = { ...DEFAULT_MACRO_LABEL_AREA }
  if (v.macroLabelArea !== undefined) {
    if (!isObj(v.macroLabelArea)) bad('$.slides.macroLabelArea', `an object of vendor (${SLIDE_VENDORS.join(', ')}) → [x, y, width, height] in fractions of the macro`, v.macroLabelArea)
    else
      for (const [k, r] of Object.entries(v.macroLabelArea)) {
        const p = `$.slides.macroLabelArea.${k}`
        if (!(SLIDE_VENDORS as readonly string[]).includes(k)) {
          bad(p, `a vendor as the key: ${SLIDE_VENDORS.join(', ')}`)
          continue
        }
        if (!Array.isArray(r) || r.length !== 4 || !r.every(isFraction) || r[2] === 0 || r[3] === 0 || r[0] + r[2] > 1 + 1e-9 || r[1] + r[3] > 1 + 1e-9) {
          bad(p, '[x, y, width, height] as fractions of the macro: each 0-1, width and height > 0, x + width <= 1, y + height <= 1 (e.g. [0, 0, 0.4, 1], the left 40%)', r)
          continue
        }
        area[k as SlideVendorName] = Object.freeze([r[0], r[1], r[2], r[3]] as const)
      }
  }
  return Object.freeze({ macro, macroLabelArea: Object.freeze(area) })
}
