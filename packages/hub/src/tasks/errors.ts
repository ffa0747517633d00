/** @module Annotation task error codes (TASK_*): what went wrong and what to do about it. */
import { KuraError } from '@kura/core'

const cut = (s: unknown, n = 64) => String(s).slice(0, n)

export const TaskErrors = {
  notFound: () => new KuraError('TASK_NOT_FOUND', 'The task does not exist (or is not visible to you); GET /api/tasks lists yours.', { status: 404 }),
  itemNotFound: () => new KuraError('TASK_ITEM_NOT_FOUND', 'The task has no such item; GET /api/tasks/{id} lists its items.', { status: 404 }),
  badRequest: (why: string) => new KuraError('TASK_BAD_REQUEST', why, { status: 400 }),
  collectionNotFound: (name: string) => new KuraError('TASK_COLLECTION_NOT_FOUND', `Collection "${cut(name)}" does not exist (or is not visible to you).`, { status: 404 }),
  forbidden: (collection: string) =>
    new KuraError('FORBIDDEN', `You do not have the annotation:review permission on collection "${cut(collection)}"; ask an administrator for a reviewer or curator grant.`, { status: 403 }),
  memberCannot: (field: string, position: number, permission: string) =>
    new KuraError('TASK_MEMBER_NOT_PERMITTED', `${field}[${position}] has no ${permission} grant on this collection (or is disabled); an administrator grants it first.`, { status: 422 }),
  itemNotInCollection: (position: number) =>
    new KuraError('TASK_ITEM_NOT_IN_COLLECTION', `items[${position}] is not an image stored in this collection; list the collection's slides (GET /slides?collection=…) or studies.`, { status: 422 }),
  vocabularyNotEnabled: () =>
    new KuraError('TASK_VOCABULARY_NOT_ENABLED', 'The vocabulary is not enabled on this collection; a curator enables it first (PUT /api/collections/{name}/vocabularies).', { status: 422 }),
  closed: () => new KuraError('TASK_CLOSED', 'The task is closed; a reviewer reopens it (PATCH /api/tasks/{id} with "status": "open") before more work is accepted.', { status: 409 }),
  notAssigned: () => new KuraError('TASK_NOT_ASSIGNED', 'This item is not assigned to you in this task; GET /api/tasks/{id}/items lists your items.', { status: 403 }),
  alreadySubmitted: () =>
    new KuraError('TASK_ITEM_SUBMITTED', 'You have submitted this item; its annotations wait for review and can no longer be changed in this task.', { status: 409 }),
  sourceNotFound: (id: string) => new KuraError('TASK_SOURCE_NOT_FOUND', `"${cut(id, 40)}" is not a reader's annotation or image-level label on this item of the task.`, { status: 422 }),
  sourceNotSubmitted: (id: string) =>
    new KuraError('TASK_SOURCE_NOT_SUBMITTED', `"${cut(id, 40)}" is still a draft; its reader submits the item (POST /api/tasks/{id}/items/{item}/submit) before it can be adjudicated.`, { status: 409 }),
} as const
