/** @module Errors raised while reading de-identification policies: stable DEID_POLICY_* codes with messages that say what to do. */
import { KuraError } from '@kura/core'

/** One problem in a policy document: where (a JSON path such as $.overrides[1].action) and what was expected. */
export interface PolicyProblem {
  readonly path: string
  readonly expected: string
}

export const PolicyErrors = {
  invalid: (problems: readonly PolicyProblem[], source?: string) =>
    new KuraError(
      'DEID_POLICY_INVALID',
      `De-identification policy${source ? ` ${source}` : ''} is invalid; fix these fields: ${problems.map((p) => `${p.path}: ${p.expected}`).join('; ')}.`,
      { status: 400, details: { problems: problems.map((p) => ({ ...p })), ...(source ? { source } : {}) } },
    ),
  unreadable: (path: string, cause: unknown) =>
    new KuraError('DEID_POLICY_UNREADABLE', `Cannot read the de-identification policy ${path}. Check the path and the gateway user's permissions.`, {
      status: 500,
      cause,
      details: { path },
    }),
  notJson: (path: string, cause: unknown) =>
    new KuraError(
      'DEID_POLICY_NOT_JSON',
      `The de-identification policy ${path} is not valid JSON (${cause instanceof Error ? cause.message : String(cause)}). Fix the syntax; policies are JSON documents.`,
      { status: 400, cause, details: { path } },
    ),
  yamlPending: (path: string) =>
    new KuraError(
      'DEID_POLICY_YAML_UNSUPPORTED',
      `${path} looks like YAML; YAML policies are not supported yet. Convert it to JSON (same fields) and load the .json file.`,
      { status: 400, details: { path } },
    ),
} as const
