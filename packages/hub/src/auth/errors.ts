/** @module Access-control error codes: who is asking, and why the answer is no. */
import { KuraError } from '@kura/core'

export const AuthErrors = {
  unauthenticated: () => new KuraError('UNAUTHENTICATED', 'Sign in first, or send an API token as "Authorization: Bearer kura_…".', { status: 401 }),
  tokenInvalid: () => new KuraError('TOKEN_INVALID', 'The API token is unknown, expired or revoked; create a new one with `npx kura token create` or in the web application.', { status: 401 }),
  forbidden: (permission: string) => new KuraError('FORBIDDEN', `You do not have the ${permission} permission; ask an administrator for a grant.`, { status: 403 }),
  passwordChangeRequired: () => new KuraError('PASSWORD_CHANGE_REQUIRED', 'Choose your own password first (POST /api/session/password, or the page the web application shows).', { status: 403 }),
  csrf: () => new KuraError('CSRF_MISMATCH', 'This request needs the X-CSRF-Token header from GET /api/session (browser sessions only).', { status: 403 }),
  invalidCredentials: () => new KuraError('INVALID_CREDENTIALS', 'Unknown user name or wrong password.', { status: 401 }),
  locked: (until: string) => new KuraError('ACCOUNT_LOCKED', `Too many failed sign-ins: the account is locked until ${until}. An administrator can unlock it sooner.`, { status: 423 }),
  disabled: () => new KuraError('ACCOUNT_DISABLED', 'This account is disabled; ask an administrator.', { status: 403 }),
  rateLimited: (retryAfterS: number) => new KuraError('RATE_LIMITED', `Too many requests; try again in ${retryAfterS} s.`, { status: 429, details: { retryAfterS } }),
  badRequest: (message: string) => new KuraError('BAD_REQUEST', message, { status: 400 }),
  notFound: (what: string) => new KuraError('NOT_FOUND', `${what} was not found.`, { status: 404 }),
  conflict: (message: string) => new KuraError('CONFLICT', message, { status: 409 }),
} as const
