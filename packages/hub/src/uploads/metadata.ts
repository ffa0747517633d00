/** @module Upload-Metadata (tus creation extension): comma-separated `key base64(value)` pairs, checked against the upload contract. */
import { UploadErrors } from './errors.ts'

/** `slide`: one slide file (SVS, NDPI, tiled TIFF); `slide-dicom`: a ustar of one DICOM WSI's instances (`<sha256>.dcm`). */
export type UploadKind = 'dicom' | 'dicom-bundle' | 'slide' | 'slide-dicom'

export interface UploadMetadata {
  kind: UploadKind
  collection: string
  sha256: string
  study: string
  count: number
}

const UID = /^[0-9]+(\.[0-9]+)*$/

export function parseUploadMetadata(header: string | undefined): UploadMetadata {
  if (!header) throw UploadErrors.badMetadata('the header is missing.')
  const pairs = new Map<string, string>()
  for (const item of header.split(',')) {
    const [key, value, ...rest] = item.trim().split(' ')
    if (!key || rest.length) throw UploadErrors.badMetadata(`"${item.trim().slice(0, 60)}" is not "key base64(value)".`)
    if (value !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw UploadErrors.badMetadata(`the value of ${key.slice(0, 30)} is not base64.`)
    pairs.set(key, value === undefined ? '' : Buffer.from(value, 'base64').toString('utf8'))
  }
  const kind = pairs.get('kind')
  if (kind !== 'dicom' && kind !== 'dicom-bundle' && kind !== 'slide' && kind !== 'slide-dicom') throw UploadErrors.badMetadata(`kind "${(kind ?? '').slice(0, 30)}" is not dicom, dicom-bundle, slide or slide-dicom.`)
  const collection = pairs.get('collection') ?? ''
  if (!collection) throw UploadErrors.badMetadata('collection is missing.')
  const sha256 = (pairs.get('sha256') ?? '').toLowerCase()
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw UploadErrors.badMetadata('sha256 is not 64 hex digits.')
  const study = pairs.get('study') ?? ''
  // A slide file belongs to no DICOM study; a DICOM WSI names its (de-identified) study when it knows it.
  const slide = kind === 'slide' || kind === 'slide-dicom'
  if (!(slide && study === '') && !UID.test(study) || study.length > 64) throw UploadErrors.badMetadata(`study "${study.slice(0, 70)}" is not a StudyInstanceUID.`)
  const countText = pairs.get('count') ?? ''
  const count = /^[0-9]{1,9}$/.test(countText) ? Number(countText) : NaN
  if (!(count >= 1)) throw UploadErrors.badMetadata(`count "${countText.slice(0, 20)}" is not a positive integer.`)
  if ((kind === 'dicom' || kind === 'slide') && count !== 1) throw UploadErrors.badMetadata(`count must be 1 for kind ${kind}.`)
  return { kind, collection, sha256, study, count }
}
