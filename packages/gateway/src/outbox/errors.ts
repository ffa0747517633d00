/** @module Errors of the outbox: GATEWAY_OUTBOX_* codes. */
import { KuraError } from '@kura/core'

export const OutboxErrors = {
  open: (path: string, cause: unknown) =>
    new KuraError('GATEWAY_OUTBOX_OPEN_FAILED', `The outbox database ${path} cannot be opened. Check the spool folder's permissions and free space; do not delete the file (it records what was already sent).`, { status: 500, cause }),
  transition: (id: string, to: string, from: string | null) =>
    new KuraError('GATEWAY_OUTBOX_BAD_TRANSITION', `Object ${id} cannot move to "${to}" from "${from ?? 'nowhere (no such object)'}". This is a bug in the gateway; please report it.`, { status: 500 }),
} as const
