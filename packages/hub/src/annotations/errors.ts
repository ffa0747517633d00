/** @module Annotation and vocabulary error codes (ANNOTATION_*, VOCABULARY_*, IMAGE_LABEL_*). */
import { KuraError } from '@kura/core'

const cut = (s: string, n = 64) => String(s).slice(0, n)

export const AnnotationErrors = {
  notFound: (what = 'The annotation') => new KuraError('ANNOTATION_NOT_FOUND', `${what} does not exist (or is not visible to you).`, { status: 404 }),
  badGeometry: (why: string) => new KuraError('ANNOTATION_BAD_GEOMETRY', `The geometry is not valid: ${why}.`, { status: 422 }),
  badRequest: (why: string) => new KuraError('ANNOTATION_BAD_REQUEST', why, { status: 400 }),
  badStatus: (from: string, to: string) =>
    new KuraError('ANNOTATION_BAD_STATUS', `An annotation cannot go from ${cut(from, 20)} to ${cut(to, 20)}; allowed: draft→submitted/accepted/rejected, submitted→draft/accepted/rejected, accepted↔rejected, accepted/rejected→submitted, rejected→draft.`, { status: 409 }),
  reviewOnly: (what: string) => new KuraError('ANNOTATION_REVIEW_ONLY', `${what} needs the annotation:review permission on this collection (a reviewer or curator).`, { status: 403 }),
  forbidden: (permission: string, collection: string) =>
    new KuraError('ANNOTATION_FORBIDDEN', `This needs the ${permission} permission on collection "${cut(collection)}"; ask an administrator for a role that has it.`, { status: 403 }),
  notAuthor: () => new KuraError('ANNOTATION_NOT_AUTHOR', 'Only its author or a reviewer (annotation:review) may change or delete this annotation.', { status: 403 }),
  locked: () => new KuraError('ANNOTATION_LOCKED', 'This annotation has been reviewed (accepted or rejected); only a reviewer may change it now.', { status: 403 }),
  tooMany: (n: number, max: number) => new KuraError('ANNOTATION_TOO_MANY', `${n} annotations in one request; send at most ${max} per request.`, { status: 413 }),
  labelNotFound: (label: string) => new KuraError('IMAGE_LABEL_NOT_FOUND', `${label} does not exist (or is not visible to you).`, { status: 404 }),
} as const

export const VocabularyErrors = {
  notFound: () => new KuraError('VOCABULARY_NOT_FOUND', 'The vocabulary does not exist; GET /api/vocabularies lists them.', { status: 404 }),
  unknownSystem: (system: string, version?: string) =>
    new KuraError('VOCABULARY_UNKNOWN_SYSTEM', `No vocabulary "${cut(system)}"${version ? ` version "${cut(version, 32)}"` : ''} is loaded; GET /api/vocabularies lists them.`, { status: 422 }),
  notEnabled: (system: string) =>
    new KuraError('VOCABULARY_NOT_ENABLED', `Vocabulary "${cut(system)}" is not among this collection's vocabularies; a curator enables it (PUT /api/collections/{name}/vocabularies).`, { status: 422 }),
  unknownCode: (system: string, code: string) => new KuraError('VOCABULARY_UNKNOWN_CODE', `"${cut(code)}" is not a code of ${cut(system)}; pick one from GET /api/vocabularies/{id}.`, { status: 422 }),
  retiredCode: (system: string, code: string) => new KuraError('VOCABULARY_RETIRED_CODE', `Code "${cut(code)}" of ${cut(system)} is retired; pick an active one.`, { status: 422 }),
  wrongLevel: (code: string, level: number, want: number) =>
    new KuraError('VOCABULARY_WRONG_LEVEL', `Code "${cut(code)}" is at level ${level}, but this collection annotates at level ${want}; pick a code of that level.`, { status: 422 }),
  exists: (system: string, version: string) =>
    new KuraError('VOCABULARY_EXISTS', `${cut(system)} version ${cut(version, 32)} is already loaded; vocabulary versions never change, so import the new content as a new version.`, { status: 409 }),
  badFile: (why: string) => new KuraError('VOCABULARY_BAD_FILE', `The vocabulary file cannot be read: ${why}.`, { status: 422 }),
  badRequest: (why: string) => new KuraError('VOCABULARY_BAD_REQUEST', why, { status: 400 }),
} as const
