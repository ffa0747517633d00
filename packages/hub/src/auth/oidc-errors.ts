/** @module OpenID Connect sign-in error codes: why a sign-in with the identity provider failed. */
import { KuraError } from '@kura/core'

/** Provider-supplied text is untrusted: keep it short and on one line before it enters a message. */
const clip = (s: string, n = 200) => s.replace(/[\r\n\t]+/g, ' ').slice(0, n)

export const OidcErrors = {
  discoveryFailed: (issuer: string, reason: string, cause?: unknown) =>
    new KuraError('OIDC_DISCOVERY_FAILED', `Cannot use the identity provider ${clip(issuer)}: ${reason} Check KURA_OIDC_ISSUER (it must equal the provider's "issuer" exactly) and that the hub can reach the provider.`, { status: 502, cause }),
  pendingMissing: () =>
    new KuraError('OIDC_PENDING_MISSING', 'The sign-in was not started in this browser or took longer than 10 minutes; start signing in again.', { status: 400 }),
  stateMismatch: () =>
    new KuraError('OIDC_STATE_MISMATCH', 'The answer from the identity provider does not belong to the sign-in started in this browser; start signing in again.', { status: 400 }),
  issuerMismatch: (got: string) =>
    new KuraError('OIDC_ISSUER_MISMATCH', `The answer came from issuer ${clip(got)}, not the configured identity provider; start signing in again.`, { status: 400 }),
  providerError: (error: string, description: string | undefined) =>
    new KuraError('OIDC_PROVIDER_ERROR', `The identity provider refused the sign-in: ${clip(error, 60)}${description ? ` (${clip(description)})` : ''}. Sign in again, or ask the identity provider's administrator for access.`, { status: 401, details: { error: clip(error, 60) } }),
  missingCode: () =>
    new KuraError('OIDC_MISSING_CODE', 'The identity provider answered without an authorization code; start signing in again.', { status: 400 }),
  codeRejected: (error: string, description: string | undefined) =>
    new KuraError('OIDC_CODE_REJECTED', `The identity provider would not exchange the authorization code: ${clip(error, 60)}${description ? ` (${clip(description)})` : ''}. Codes work once and expire quickly; start signing in again.`, { status: 401 }),
  unreachable: (what: string, cause: unknown) =>
    new KuraError('OIDC_PROVIDER_UNREACHABLE', `The identity provider's ${what} did not answer properly; try again later, or ask an administrator to check the hub's connection to the provider.`, { status: 502, cause }),
  tokenInvalid: (reason: string, cause?: unknown) =>
    new KuraError('OIDC_TOKEN_INVALID', `The identity provider's ID token was not accepted (${clip(reason)}); start signing in again. If this keeps happening, an administrator should check the hub's clock and KURA_OIDC_CLIENT_ID.`, { status: 401, cause }),
} as const
