/** @module Archive error codes: why an object was not stored. */
import { KuraError } from '@kura/core'

export const ArchiveErrors = {
  missingAttribute: (keyword: string) =>
    new KuraError('ARCHIVE_MISSING_ATTRIBUTE', `The object has no ${keyword}; every stored instance needs StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID and SOPClassUID.`, { status: 400 }),
  invalidUid: (keyword: string, value: string) =>
    new KuraError('ARCHIVE_INVALID_UID', `${keyword} "${value.slice(0, 70)}" is not a valid UID (digits and dots, at most 64 characters).`, { status: 400 }),
  conflict: (sopInstanceUid: string, reason: string) =>
    new KuraError('ARCHIVE_CONFLICT', `SOP Instance ${sopInstanceUid} is already stored with different content (${reason}); it was not overwritten. Delete the stored instance first if the new one should replace it.`, { status: 409 }),
  studyMismatch: (actual: string, expected: string) =>
    new KuraError('ARCHIVE_STUDY_MISMATCH', `The instance belongs to study ${actual}, not to ${expected} named in the request URL; it was not stored. Send it to /dicomweb/studies instead.`, { status: 409 }),
  otherSite: (studyInstanceUid: string, site: string) =>
    new KuraError('ARCHIVE_OTHER_SITE', `Study ${studyInstanceUid} was not sent by site "${site}"; a site uploader adds only to its own site's studies. Nothing was stored.`, { status: 403 }),
  quarantined: (collection: string, findings: Array<{ kind: string; reason: string }>) =>
    new KuraError(
      'HUB_QUARANTINED',
      `Collection "${collection}" holds only de-identified data, and this object failed the hub's receipt check (${findings.slice(0, 3).map((f) => f.reason).join('; ')}${findings.length > 3 ? `; and ${findings.length - 3} more` : ''}). It was quarantined, not stored: fix the gateway's policy and send it again.`,
      { status: 422, details: { findings } },
    ),
  badCollection: (name: string) =>
    new KuraError('ARCHIVE_BAD_COLLECTION', `Collection name "${name.slice(0, 80)}" is not valid: use 1–64 letters, digits, '-', '_' or '.'.`, { status: 400 }),
} as const
