/** @module Errors of the gateway's configuration: GATEWAY_CONFIG_* codes, one message listing every bad field. */
import { KuraError } from '@kura/core'

export interface ConfigProblem {
  /** Dotted path of the field, e.g. `limits.windows[0]`. */
  field: string
  message: string
}

export const ConfigErrors = {
  invalid: (file: string, problems: ConfigProblem[]) =>
    new KuraError('GATEWAY_CONFIG_INVALID', `The gateway configuration ${file} is not valid; fix these fields:\n${problems.map((p) => `  ${p.field}: ${p.message}`).join('\n')}`, {
      status: 400,
      details: { problems },
    }),
  unreadable: (file: string, cause: unknown) =>
    new KuraError('GATEWAY_CONFIG_UNREADABLE', `The gateway configuration ${file} cannot be read or is not YAML. Write one with "kura gateway init".`, { status: 400, cause }),
  exists: (file: string) =>
    new KuraError('GATEWAY_CONFIG_EXISTS', `${file} already exists; "kura gateway init" never overwrites a configuration. Choose another --out or remove it.`, { status: 400 }),
} as const
