/** @module Clinical record error codes (RECORD_*): whole-request refusals; single records are answered per item. */
import { KuraError } from '@kura/core'

export const RecordErrors = {
  collectionRequired: () => new KuraError('RECORD_COLLECTION_REQUIRED', 'Name the collection: POST /api/records?collection=NAME (or ?collection= on a count).', { status: 400 }),
  collectionNotFound: (name: string) =>
    new KuraError('RECORD_COLLECTION_NOT_FOUND', `Collection "${name.slice(0, 64)}" does not exist; an administrator creates it (POST /api/collections).`, { status: 404 }),
  badBody: (why: string) =>
    new KuraError('RECORD_BAD_BODY', `${why} Send a JSON array, or NDJSON (one item per line), of { "key", "record" } items (docs/upload-protocol.md).`, { status: 400 }),
  mediaType: (got: string) =>
    new KuraError('RECORD_UNSUPPORTED_MEDIA_TYPE', `Send records as application/json (an array) or application/x-ndjson, not ${got.slice(0, 100)}.`, { status: 415 }),
  tooMany: (n: number, max: number) => new KuraError('RECORD_BATCH_TOO_LARGE', `${n} items in one request; send at most ${max} per request.`, { status: 413 }),
  otherSite: (site: string) =>
    new KuraError('RECORD_OTHER_SITE', `This token uploads for its own site only and may not send records as site "${site.slice(0, 64)}"; leave out ?site=.`, { status: 403 }),
  siteNotFound: (site: string) => new KuraError('RECORD_SITE_NOT_FOUND', `Site "${site.slice(0, 64)}" does not exist; an administrator creates it (POST /api/sites).`, { status: 404 }),
  notFound: () => new KuraError('RECORD_NOT_FOUND', 'The clinical record is not in the archive (or not visible to you).', { status: 404 }),
  badQuery: (message: string) => new KuraError('RECORD_BAD_QUERY', message, { status: 400 }),
} as const
