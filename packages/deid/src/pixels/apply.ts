/**
 * @module Blanks burned-in regions of pixel data (PS3.15 E.3.1 Clean Pixel Data Option) and wraps a rewrite plan so
 * the output carries the masked pixels, Burned In Annotation NO and the Clean Pixel Data method code (DCM 113101).
 *
 * Decisions:
 * - Native pixel data (8 or 16 bit, 1 or 3 samples, Planar Configuration 0 or 1, any number of frames) is loaded
 *   whole (at most MAX_PIXEL_BYTES) and every mask rectangle is set to 0 in every frame, clipped to the image.
 * - Encapsulated (compressed) pixel data, JPEG Baseline included, is refused with DEID_PIXELS_UNSUPPORTED_SYNTAX:
 *   the rewriter writes replaceBytes with a defined length, and encapsulated Pixel Data must keep undefined length
 *   (PS3.5 A.4), so re-encoded fragments cannot be written yet.
 * - Under cleanPixelData a matching mask is applied even when the object is not flagged (maskReason undefined).
 */
import type { ByteSource } from '@kura/core'
import {
  Tags, getNumber, getString, isNativeTransferSyntax,
  type ParsedDicom, type RewritePlan, type WriteElement, type WriteValue,
} from '@kura/dicom'
import { OPTION_CODES } from '../profile/options.ts'
import type { PixelMask, Policy } from '../policy/schema.ts'
import { PixelErrors } from './errors.ts'
import { PX, findMask, maskReason } from './masks.ts'

/** Largest Pixel Data value (bytes) masking loads into memory. */
export const MAX_PIXEL_BYTES = 256 * 1024 * 1024

const CODE_VALUE = 0x00080100
const CODING_SCHEME = 0x00080102
const CODE_MEANING = 0x00080104
const METHOD_CODE_SEQUENCE = 0x00120064

export interface PixelPlan {
  mask: PixelMask
  /** The masked Pixel Data value, even length. */
  bytes: Uint8Array
}

const trim = (s: string | undefined): string => (s ?? '').replace(/^[ \0]+|[ \0]+$/g, '')

/**
 * Decides pixel masking for one object: undefined when nothing is to be masked, the masked Pixel Data otherwise.
 * Throws DEID_PIXELS_NO_MASK when masking is needed and no policy mask matches, DEID_PIXELS_UNSUPPORTED_SYNTAX for
 * compressed pixel data, DEID_PIXELS_UNSUPPORTED_LAYOUT / DEID_PIXELS_TOO_LARGE when the native data cannot be handled.
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
  if (px.fragments || px.undefinedLength || !isNativeTransferSyntax(ts)) {
    throw PixelErrors.unsupportedSyntax(ts, 'compressed pixel data would have to be re-encoded and written with undefined length, which the rewriter does not support yet')
  }
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
  return { mask, bytes }
}

export interface NativeLayout {
  rows: number
  columns: number
  samples: number
  bitsAllocated: number
  planar: number
  frames: number
  photometric: string
}

/** Zeroes every mask rectangle (clipped to the image) in every frame of native pixel data, in place. */
export function maskNative(bytes: Uint8Array, l: NativeLayout, mask: PixelMask): void {
  const { rows, columns, samples, bitsAllocated, frames } = l
  if (!(rows > 0 && columns > 0)) throw PixelErrors.unsupportedLayout('Rows and Columns are missing')
  if (bitsAllocated !== 8 && bitsAllocated !== 16) throw PixelErrors.unsupportedLayout(`Bits Allocated ${bitsAllocated}; only 8 and 16 are handled`)
  if (samples !== 1 && samples !== 3) throw PixelErrors.unsupportedLayout(`Samples per Pixel ${samples}; only 1 and 3 are handled`)
  if (l.photometric.endsWith('_422') || l.photometric.endsWith('_420')) throw PixelErrors.unsupportedLayout(`Photometric Interpretation ${l.photometric} (subsampled)`)
  const bps = bitsAllocated / 8
  const planar = samples === 3 && l.planar === 1
  const pixelBytes = rows * columns * samples * bps
  if (frames * pixelBytes > bytes.length) {
    throw PixelErrors.unsupportedLayout(`Pixel Data holds ${bytes.length} bytes, fewer than ${frames} frames of ${rows}×${columns}×${samples}×${bitsAllocated} bits`)
  }
  for (const [x, y, w, h] of mask.rects) {
    const x0 = Math.max(0, Math.floor(x))
    const y0 = Math.max(0, Math.floor(y))
    const x1 = Math.min(columns, Math.floor(x + w))
    const y1 = Math.min(rows, Math.floor(y + h))
    if (x1 <= x0 || y1 <= y0) continue
    for (let f = 0; f < frames; f++) {
      const base = f * pixelBytes
      if (planar) {
        const plane = rows * columns * bps
        for (let s = 0; s < 3; s++) {
          for (let r = y0; r < y1; r++) {
            const o = base + s * plane + (r * columns + x0) * bps
            bytes.fill(0, o, o + (x1 - x0) * bps)
          }
        }
      } else {
        const stride = samples * bps
        for (let r = y0; r < y1; r++) {
          const o = base + (r * columns + x0) * stride
          bytes.fill(0, o, o + (x1 - x0) * stride)
        }
      }
    }
  }
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
 * is counted), Burned In Annotation NO inserted, and DCM 113101 added to the method code sequence if missing.
 */
export function withPixelPlan(plan: RewritePlan, px: PixelPlan | undefined): RewritePlan {
  if (!px) return plan
  const insert = (plan.insert ?? [])
    .filter((i) => i.tag >>> 0 !== PX.BurnedInAnnotation)
    .map((i) => (i.tag >>> 0 === METHOD_CODE_SEQUENCE ? { ...i, value: withCleanPixelCode(i.value) } : i))
  insert.push({ tag: PX.BurnedInAnnotation, vr: 'CS', value: 'NO' })
  return {
    insert,
    edit(el, path, ds) {
      const e = plan.edit(el, path, ds)
      if (path.length !== 1 || el.tag >>> 0 !== PX.PixelData || e.op === 'remove') return e
      return { op: 'replaceBytes', bytes: px.bytes }
    },
  }
}
