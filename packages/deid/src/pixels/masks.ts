/** @module Which images need their burned-in text blanked (PS3.15 E.3.1 Clean Pixel Data Option) and which policy mask fits them. */
import { Tags, getNumber, getString, tagOf, type DicomDataset } from '@kura/dicom'
import type { Option } from '../profile/options.ts'
import type { PixelMask, Policy } from '../policy/schema.ts'

export const PX = {
  BurnedInAnnotation: 0x00280301,
  Modality: 0x00080060,
  Manufacturer: 0x00080070,
  ManufacturerModelName: 0x00081090,
  PixelData: 0x7fe00010,
} as const

/** Modalities whose images routinely carry burned-in patient data: endoscopy, ultrasound, external camera photography. */
export const MASKED_MODALITIES: ReadonlySet<string> = new Set(['ES', 'US', 'XC'])
const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7'
const VL_ENDOSCOPIC = '1.2.840.10008.5.1.4.1.1.77.1.1'
const under = (uid: string, root: string): boolean => uid === root || uid.startsWith(`${root}.`)
const text = (ds: DicomDataset, tag: number): string => (getString(ds, tag) ?? '').replace(/^[ \0]+|[ \0]+$/g, '')

/** The first policy mask whose every match field equals the object's value (strings trimmed, numbers exact). */
export function findMask(ds: DicomDataset, policy: Policy): PixelMask | undefined {
  return policy.pixelMasks.find((m) =>
    Object.entries(m.match).every(([keyword, want]) => {
      const tag = tagOf(keyword)
      if (tag === undefined || !ds.elements.has(tag)) return false
      return typeof want === 'number' ? getNumber(ds, tag) === want : text(ds, tag) === want.trim()
    }),
  )
}

/**
 * Why the object's pixels must be masked, or undefined when they need not be. Burned In Annotation YES always
 * counts (PS3.15 E.3.1); under cleanPixelData so do ES/US/XC images, Secondary Capture and VL Endoscopic objects.
 */
export function maskReason(ds: DicomDataset, options: ReadonlySet<Option>): string | undefined {
  if (!ds.elements.has(PX.PixelData)) return undefined
  if (text(ds, PX.BurnedInAnnotation).toUpperCase() === 'YES') return 'Burned In Annotation is YES'
  if (!options.has('cleanPixelData')) return undefined
  const modality = text(ds, PX.Modality)
  if (MASKED_MODALITIES.has(modality)) return `Modality ${modality}`
  const sop = text(ds, Tags.SOPClassUID)
  if (under(sop, SECONDARY_CAPTURE)) return `Secondary Capture SOP class ${sop}`
  if (under(sop, VL_ENDOSCOPIC)) return `VL Endoscopic SOP class ${sop}`
  return undefined
}

/** True when the object has pixel data that must be masked before it leaves (see maskReason). */
export function needsMask(ds: DicomDataset, options: ReadonlySet<Option>): boolean {
  return maskReason(ds, options) !== undefined
}
