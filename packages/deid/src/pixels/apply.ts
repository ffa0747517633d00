/**
 * @module Blanks burned-in regions of pixel data (PS3.15 E.3.1 Clean Pixel Data Option) and wraps a rewrite plan so
 * the output carries the masked pixels, Burned In Annotation NO and the Clean Pixel Data method code (DCM 113101).
 *
 * Decisions:
 * - Native pixel data (8 or 16 bit, 1 or 3 samples, Planar Configuration 0 or 1, any number of frames) is loaded
 *   whole (at most MAX_PIXEL_BYTES) and every mask rectangle is set to 0 in every frame, clipped to the image.
 * - Encapsulated pixel data in JPEG Baseline, 8-bit JPEG Extended and RLE Lossless is decoded, masked and
 *   re-encoded in the same transfer syntax frame by frame as the output is written (compressed.ts); any other
 *   compressed or deflated syntax is refused with DEID_PIXELS_UNSUPPORTED_SYNTAX naming it and what to do.
 * - Under cleanPixelData a matching mask is applied even when the object is not flagged (maskReason undefined).
 */
import type { ByteSource } from '@kura/core'
import {
  Tags, getNumber, getString, isNativeTransferSyntax, transferSyntaxInfo,
  type ParsedDicom, type RewritePlan, type WriteElement, type WriteValue,
} from '@kura/dicom'
import { OPTION_CODES } from '../profile/options.ts'
import type { PixelMask, Policy } from '../policy/schema.ts'
import { PixelErrors } from './errors.ts'
import { PX, findMask, maskReason } from './masks.ts'
import { maskNative } from './paint.ts'
import { planEncapsulated, type EncapsulatedPixelPlan } from './compressed.ts'

export { maskNative, type NativeLayout } from './paint.ts'

/** Largest Pixel Data value (bytes) masking loads into memory. */
export const MAX_PIXEL_BYTES = 256 * 1024 * 1024

const CODE_VALUE = 0x00080100
const CODING_SCHEME = 0x00080102
const CODE_MEANING = 0x00080104
const METHOD_CODE_SEQUENCE = 0x00120064

export interface NativePixelPlan {
  kind: 'native'
  mask: PixelMask
  /** The masked Pixel Data value, even length. */
  bytes: Uint8Array
}

export type PixelPlan = NativePixelPlan | EncapsulatedPixelPlan
export type { EncapsulatedPixelPlan }

const trim = (s: string | undefined): string => (s ?? '').replace(/^[ \0]+|[ \0]+$/g, '')

/**
 * Decides pixel masking for one object: undefined when nothing is to be masked, the masked Pixel Data otherwise.
 * Throws DEID_PIXELS_NO_MASK when masking is needed and no policy mask matches, DEID_PIXELS_UNSUPPORTED_SYNTAX for
 * compressed pixel data without a decoder here (see compressed.ts), DEID_PIXELS_UNSUPPORTED_LAYOUT /
 * DEID_PIXELS_TOO_LARGE when the data cannot be handled.
 */
export async function planPixels(parsed: ParsedDicom, src: ByteSource, policy: Policy): Promise<PixelPlan | undefined> {
  const ds = parsed.dataset
  const px = ds.elements.get(PX.PixelData)
  if (!px) return undefined
  const reason = maskReason(ds, policy.options)
  const mask = findMask(ds, policy)
  if (!mask) {
    if (reason === undefined) return undefined
    throw PixelErrors.noMask(
      {
        manufacturer: trim(getString(ds, PX.Manufacturer)),
        model: trim(getString(ds, PX.ManufacturerModelName)),
        rows: getNumber(ds, Tags.Rows),
        columns: getNumber(ds, Tags.Columns),
      },
      reason,
    )
  }
  if (reason === undefined && !policy.options.has('cleanPixelData')) return undefined
  const ts = parsed.transferSyntaxUID
  if (parsed.deflated || transferSyntaxInfo(ts).deflated) {
    throw PixelErrors.unsupportedSyntax(ts, 'deflated objects cannot be rewritten here', 'Inflate it to Explicit VR Little Endian first (e.g. `dcmconv +te`)')
  }
  if (px.fragments || px.undefinedLength || !isNativeTransferSyntax(ts)) return planEncapsulated(parsed, src, mask)
  if (px.length > MAX_PIXEL_BYTES) throw PixelErrors.tooLarge(px.length, MAX_PIXEL_BYTES)
  const raw = px.bytes && px.bytes.length === px.length ? px.bytes : await src.read(px.offset, px.length)
  if (raw.length < px.length) throw PixelErrors.unsupportedLayout(`Pixel Data is truncated: ${raw.length} of ${px.length} bytes`)
  const bytes = new Uint8Array(raw) // a copy: never write into the source's buffer
  maskNative(bytes, {
    rows: getNumber(ds, Tags.Rows) ?? 0,
    columns: getNumber(ds, Tags.Columns) ?? 0,
    samples: getNumber(ds, Tags.SamplesPerPixel) ?? 1,
    bitsAllocated: getNumber(ds, Tags.BitsAllocated) ?? 8,
    planar: getNumber(ds, Tags.PlanarConfiguration) ?? 0,
    frames: Math.max(1, Math.floor(getNumber(ds, Tags.NumberOfFrames) ?? 1)),
    photometric: trim(getString(ds, Tags.PhotometricInterpretation)),
  }, mask)
  return { kind: 'native', mask, bytes }
}

function codeValueOf(item: WriteElement[]): string | undefined {
  const v = item.find((e) => e.tag === CODE_VALUE)?.value
  return typeof v === 'string' ? v : undefined
}

/** With the Clean Pixel Data code (DCM 113101) in a De-identification Method Code Sequence value, kept in code order. */
function withCleanPixelCode(value: WriteValue): WriteValue {
  const items = (Array.isArray(value) ? value : []) as WriteElement[][]
  const code = OPTION_CODES.cleanPixelData
  if (items.some((i) => codeValueOf(i) === code.codeValue)) return items
  const added: WriteElement[] = [
    { tag: CODE_VALUE, vr: 'SH', value: code.codeValue },
    { tag: CODING_SCHEME, vr: 'SH', value: code.codingSchemeDesignator },
    { tag: CODE_MEANING, vr: 'LO', value: code.codeMeaning },
  ]
  const at = items.findIndex((i) => (codeValueOf(i) ?? '') > code.codeValue)
  return at < 0 ? [...items, added] : [...items.slice(0, at), added, ...items.slice(at)]
}

/**
 * The plan with the masked Pixel Data at the root (the inner edit still decides, so a removal stays a removal and
 * is counted), Burned In Annotation NO inserted, DCM 113101 added to the method code sequence if missing, and for
 * re-encoded pixel data the frames written as a new encapsulated value with the attributes the encoding changed.
 */
export function withPixelPlan(plan: RewritePlan, px: PixelPlan | undefined): RewritePlan {
  if (!px) return plan
  const extra = px.kind === 'encapsulated' ? px.insert : []
  const replaced = new Set([PX.BurnedInAnnotation, ...extra.map((i) => i.tag >>> 0)])
  const insert = (plan.insert ?? [])
    .filter((i) => !replaced.has(i.tag >>> 0))
    .map((i) => (i.tag >>> 0 === METHOD_CODE_SEQUENCE ? { ...i, value: withCleanPixelCode(i.value) } : i))
  insert.push({ tag: PX.BurnedInAnnotation, vr: 'CS', value: 'NO' }, ...extra)
  return {
    ...plan,
    insert,
    edit(el, path, ds) {
      const e = plan.edit(el, path, ds)
      if (path.length !== 1 || el.tag >>> 0 !== PX.PixelData || e.op === 'remove') return e
      return px.kind === 'native' ? { op: 'replaceBytes', bytes: px.bytes } : { op: 'encapsulate', frames: px.frames }
    },
  }
}
