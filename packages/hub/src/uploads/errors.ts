/** @module Upload (tus) error codes: why a gateway's upload request was refused. */
import { KuraError } from '@kura/core'

export const UploadErrors = {
  tusVersion: (got: string) =>
    new KuraError('UPLOAD_TUS_VERSION', `This hub speaks tus 1.0.0 only; send "Tus-Resumable: 1.0.0" (got "${got.slice(0, 20)}").`, { status: 412 }),
  badHeader: (name: string, why: string) => new KuraError('UPLOAD_BAD_HEADER', `${name}: ${why}`, { status: 400 }),
  badMetadata: (why: string) =>
    new KuraError('UPLOAD_BAD_METADATA', `Upload-Metadata: ${why} It needs kind (dicom or dicom-bundle), collection, sha256 (hex), study and count, each as "key base64(value)".`, { status: 400 }),
  tooLarge: (length: number, max: number) =>
    new KuraError('UPLOAD_TOO_LARGE', `Upload-Length ${length} exceeds this hub's maximum of ${max} bytes (Tus-Max-Size); split the content into several uploads.`, { status: 413 }),
  notFound: () => new KuraError('UPLOAD_NOT_FOUND', 'No such upload (or not visible to you); create a new upload with POST /uploads.', { status: 404 }),
  gone: (why: string) => new KuraError('UPLOAD_GONE', `The upload ${why}; create a new upload with POST /uploads.`, { status: 410 }),
  offsetConflict: (sent: number, actual: number) =>
    new KuraError('UPLOAD_OFFSET_CONFLICT', `Upload-Offset ${sent} does not match the hub's offset ${actual}; send HEAD and resume from its Upload-Offset.`, { status: 409 }),
  busy: () =>
    new KuraError('UPLOAD_BUSY', 'Another request is writing to this upload right now (or one just broke off and its lease has not yet run out); send HEAD and retry shortly.', { status: 409, details: { retryAfterS: 2 } }),
  alreadyComplete: () => new KuraError('UPLOAD_COMPLETE', 'The upload is already complete; its outcome is at GET /uploads/{id}/result.', { status: 409 }),
  contentType: (got: string) =>
    new KuraError('UPLOAD_CONTENT_TYPE', `PATCH bodies must be "Content-Type: application/offset+octet-stream" (got "${got.slice(0, 60)}").`, { status: 415 }),
  checksumAlgorithm: (got: string) =>
    new KuraError('UPLOAD_CHECKSUM_ALGORITHM', `Upload-Checksum algorithm "${got.slice(0, 20)}" is not supported; use "sha256 <base64 digest>".`, { status: 400 }),
  checksumMismatch: () =>
    new KuraError('UPLOAD_CHECKSUM_MISMATCH', 'The body does not match its Upload-Checksum; it was discarded and the offset did not move. Send the same chunk again.', { status: 460 }),
  unverified: () =>
    new KuraError('UPLOAD_UNVERIFIED', 'The hub could not check this body against its Upload-Checksum (a hashing thread failed); it was discarded and the offset did not move. Send the same chunk again.', { status: 503, details: { retryAfterS: 1 } }),
  pastEnd: (length: number) =>
    new KuraError('UPLOAD_PAST_END', `The body runs past Upload-Length (${length}); nothing of it was kept. Send HEAD and resume with a body that ends at Upload-Length.`, { status: 400 }),
  sha256Mismatch: (expected: string, actual: string) =>
    new KuraError('UPLOAD_SHA256_MISMATCH', `The whole upload's SHA-256 is ${actual}, not ${expected} as its metadata said; nothing was stored. Create a new upload with the right bytes.`, { status: 422 }),
  badBundle: (why: string) =>
    new KuraError('UPLOAD_BAD_BUNDLE', `The dicom-bundle is not valid (${why}); nothing was stored. Send a ustar archive of files named <sha256 hex>.dcm.`, { status: 422 }),
  countMismatch: (expected: number, actual: number) =>
    new KuraError('UPLOAD_COUNT_MISMATCH', `The upload holds ${actual} object(s) but its metadata said count ${expected}; nothing was stored. Create a new upload with the right count.`, { status: 422 }),
  incomplete: (offset: number, length: number) =>
    new KuraError('UPLOAD_INCOMPLETE', `The upload has no result yet: ${offset} of ${length} bytes have arrived. Resume it with PATCH from Upload-Offset ${offset}.`, { status: 409 }),
  studyNotFound: (uid: string) => new KuraError('UPLOAD_STUDY_NOT_FOUND', `Study ${uid.slice(0, 70)} is not in the archive (or not visible to you); nothing of it has arrived yet.`, { status: 404 }),
} as const
