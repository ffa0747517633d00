/** @module Errors raised by the de-identification engine: stable DEID_ENGINE_* codes with messages that say what to do. */
import { KuraError } from '@kura/core'

export const EngineErrors = {
  noSubject: () =>
    new KuraError(
      'DEID_ENGINE_NO_SUBJECT',
      'The object has neither a Patient ID (0010,0020) nor a Study Instance UID (0020,000D), so no subject key for the date shift can be formed. Add one of them before de-identifying.',
      { status: 422 },
    ),
} as const
