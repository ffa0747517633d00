/** @module Errors raised while reading de-identification policies: stable DEID_POLICY_* codes with messages that say what to do. */
import { KuraError } from '@kura/core'

/** One problem in a policy document: where (a JSON path such as $.overrides[1].action) and what was expected. */
export interface PolicyProblem {
  readonly path: string
  readonly expected: string
  /** 1-based line in the policy file, when the file format tells it (YAML). */
  readonly line?: number
}

const where = (p: PolicyProblem): string => (p.line === undefined ? p.path : `${p.path} (line ${p.line})`)

export const PolicyErrors = {
  invalid: (problems: readonly PolicyProblem[], source?: string) =>
    new KuraError(
      'DEID_POLICY_INVALID',
      `De-identification policy${source ? ` ${source}` : ''} is invalid; fix these fields: ${problems.map((p) => `${where(p)}: ${p.expected}`).join('; ')}.`,
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
      `The de-identification policy ${path} is not valid JSON (${cause instanceof Error ? cause.message : String(cause)}). Fix the syntax, or write the policy as YAML (.yaml) instead.`,
      { status: 400, cause, details: { path } },
    ),
  notYaml: (path: string, why: string, cause: unknown) =>
    new KuraError(
      'DEID_POLICY_NOT_YAML',
      `The de-identification policy ${path} is not valid YAML (${why}). Fix the syntax; the fields are the same as in a JSON policy (see packages/deid/policies/example.yaml).`,
      { status: 400, cause, details: { path } },
    ),
} as const
