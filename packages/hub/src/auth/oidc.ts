/**
 * @module OpenID Connect relying party: authorization code flow with PKCE (S256) against the
 * institution's identity provider, ID tokens checked against the provider's JWKS with `jose`.
 *
 * Deliberately small: discovery, one authorization request, one token exchange, ID token
 * validation (OIDC Core 3.1.3.7), and userinfo only to fill profile claims the ID token lacks.
 * No refresh tokens, no logout: the hub keeps its own session once the user is known.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose'
import { KuraError, type OidcClientConfig } from '@kura/core'
import { OidcErrors } from './oidc-errors.ts'

/** What the browser must carry (in a signed cookie) between `begin` and `finish`. */
export interface OidcPending {
  state: string
  nonce: string
  codeVerifier: string
}

/** Who the provider says signed in. `issuer` + `subject` is the stable key; email may change. */
export interface OidcIdentity {
  issuer: string
  subject: string
  email?: string
  emailVerified?: boolean
  name?: string
  preferredUsername?: string
}

export type OidcCallbackQuery = Record<string, string | undefined>

/** The fields of the discovery document we use (OpenID Connect Discovery 1.0, section 3). */
interface ProviderMetadata {
  issuer: string
  authorization_endpoint: string
  token_endpoint: string
  jwks_uri: string
  userinfo_endpoint?: string
  id_token_signing_alg_values_supported?: string[]
  token_endpoint_auth_methods_supported?: string[]
  code_challenge_methods_supported?: string[]
  authorization_response_iss_parameter_supported?: boolean
}

const SCOPE = 'openid profile email'
const HTTP_TIMEOUT_MS = 10_000
/** Seconds of clock difference between hub and provider tolerated on exp/iat/nbf. */
export const CLOCK_TOLERANCE_S = 60
/** An ID token is fetched moments before it is checked; an older one is a replay, not a sign-in. */
const MAX_ID_TOKEN_AGE_S = 600
/** Signature algorithms a JWKS can verify; 'none' and HMAC (keyed with the client secret) are never accepted. */
const ASYMMETRIC_ALGS = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'])

const b64url = (buf: Buffer) => buf.toString('base64url')
const randomToken = () => b64url(randomBytes(32))

/** Constant-time string comparison; the length is not secret (all our values have fixed length). */
export function constantEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** Plain http is accepted only on loopback (tests, a provider on the same machine); elsewhere tokens need TLS. */
function isAcceptableUrl(raw: unknown): raw is string {
  if (typeof raw !== 'string') return false
  const u = URL.canParse(raw) ? new URL(raw) : null
  if (!u) return false
  if (u.protocol === 'https:') return true
  return u.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname)
}

export interface VerifyIdTokenOptions {
  jwks: JWTVerifyGetKey
  issuer: string
  clientId: string
  nonce: string
  /** Accepted signature algorithms (from discovery); default RS256, which every provider must support. */
  algorithms?: string[]
  clockToleranceS?: number
}

/**
 * Validate an ID token (OIDC Core 3.1.3.7): signature by a key in the provider's JWKS with an
 * accepted algorithm, iss, aud, exp/iat, nonce, and azp when there are several audiences.
 * Returns the claims; throws OIDC_TOKEN_INVALID (or OIDC_PROVIDER_UNREACHABLE when the JWKS
 * cannot be fetched).
 */
export async function verifyIdToken(token: string, opts: VerifyIdTokenOptions): Promise<JWTPayload & { sub: string }> {
  let payload: JWTPayload
  try {
    ;({ payload } = await jwtVerify(token, opts.jwks, {
      issuer: opts.issuer,
      audience: opts.clientId,
      algorithms: (opts.algorithms ?? ['RS256']).filter((a) => ASYMMETRIC_ALGS.has(a)),
      clockTolerance: opts.clockToleranceS ?? CLOCK_TOLERANCE_S,
      maxTokenAge: MAX_ID_TOKEN_AGE_S,
      requiredClaims: ['sub', 'iat', 'exp'],
    }))
  } catch (e) {
    if (e instanceof joseErrors.JWKSTimeout || e instanceof joseErrors.JWKSInvalid || (e instanceof TypeError && !(e instanceof joseErrors.JOSEError))) {
      throw OidcErrors.unreachable('signing keys (jwks_uri)', e)
    }
    const reason = e instanceof joseErrors.JWTClaimValidationFailed || e instanceof joseErrors.JWTExpired
      ? `claim "${e.claim}": ${e.reason}`
      : e instanceof joseErrors.JOSEError ? e.code : 'malformed token'
    throw OidcErrors.tokenInvalid(reason, e)
  }
  if (typeof payload.nonce !== 'string' || !constantEqual(payload.nonce, opts.nonce)) {
    throw OidcErrors.tokenInvalid('nonce does not match this sign-in')
  }
  // With several audiences the token must say it was issued to us (azp); if azp is present it must be us.
  const audiences = [payload.aud ?? []].flat()
  if (audiences.length > 1 && payload.azp === undefined) throw OidcErrors.tokenInvalid('several audiences but no azp')
  if (payload.azp !== undefined && payload.azp !== opts.clientId) throw OidcErrors.tokenInvalid('azp is another client')
  if (typeof payload.sub !== 'string' || payload.sub === '') throw OidcErrors.tokenInvalid('no subject')
  return payload as JWTPayload & { sub: string }
}

/** One configured identity provider, after discovery. Stateless: the pending values travel with the browser. */
export class OidcClient {
  readonly issuer: string
  readonly clientId: string
  readonly name: string
  readonly redirectUri: string
  readonly #clientSecret: string | undefined
  readonly #meta: ProviderMetadata
  readonly #jwks: JWTVerifyGetKey
  readonly #algorithms: string[]

  private constructor(cfg: OidcClientConfig & { redirectUri: string }, meta: ProviderMetadata, algorithms: string[]) {
    this.issuer = cfg.issuer
    this.clientId = cfg.clientId
    this.name = cfg.name
    this.redirectUri = cfg.redirectUri
    this.#clientSecret = cfg.clientSecret
    this.#meta = meta
    this.#algorithms = algorithms
    // jose caches the key set and refetches (with a cooldown) when a token names an unknown kid: key rotation works.
    this.#jwks = createRemoteJWKSet(new URL(meta.jwks_uri), { timeoutDuration: HTTP_TIMEOUT_MS })
  }

  /** Fetch and check the provider's discovery document. Throws OIDC_DISCOVERY_FAILED with what to fix. */
  static async discover(cfg: OidcClientConfig & { redirectUri: string }): Promise<OidcClient> {
    const fail = (reason: string, cause?: unknown) => OidcErrors.discoveryFailed(cfg.issuer, reason, cause)
    if (!isAcceptableUrl(cfg.issuer)) throw fail('the issuer must be an https URL (plain http only on localhost).')
    // Discovery 4.1: strip a trailing slash from the issuer, then append the well-known path.
    const url = `${cfg.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`
    let meta: ProviderMetadata
    try {
      const res = await fetch(url, { headers: { accept: 'application/json' }, redirect: 'error', signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) })
      if (!res.ok) throw fail(`${url} answered HTTP ${res.status}.`)
      meta = (await res.json()) as ProviderMetadata
    } catch (e) {
      if (e instanceof KuraError) throw e
      throw fail(`${url} could not be fetched or is not JSON (${(e as Error).message}).`, e)
    }
    if (meta === null || typeof meta !== 'object') throw fail(`${url} is not a JSON object.`)
    // Discovery 4.3: the issuer must be identical, or tokens could be accepted from another tenant/provider.
    if (meta.issuer !== cfg.issuer) throw fail(`the provider calls itself "${String(meta.issuer)}", not "${cfg.issuer}".`)
    for (const key of ['authorization_endpoint', 'token_endpoint', 'jwks_uri'] as const) {
      if (!isAcceptableUrl(meta[key])) throw fail(`its ${key} is missing or not an https URL.`)
    }
    if (meta.userinfo_endpoint !== undefined && !isAcceptableUrl(meta.userinfo_endpoint)) throw fail('its userinfo_endpoint is not an https URL.')
    if (meta.code_challenge_methods_supported && !meta.code_challenge_methods_supported.includes('S256')) {
      throw fail('it does not support PKCE with S256, which the hub requires.')
    }
    const algorithms = (meta.id_token_signing_alg_values_supported ?? ['RS256']).filter((a) => ASYMMETRIC_ALGS.has(a))
    if (algorithms.length === 0) throw fail('it signs ID tokens with no asymmetric algorithm the hub accepts (RS*, PS*, ES*, EdDSA).')
    return new OidcClient(cfg, meta, algorithms)
  }

  /** Start a sign-in: the provider URL to send the browser to, and the values to keep for `finish`. */
  begin(): { url: string; pending: OidcPending } {
    const pending: OidcPending = { state: randomToken(), nonce: randomToken(), codeVerifier: randomToken() }
    const challenge = b64url(createHash('sha256').update(pending.codeVerifier).digest())
    const url = new URL(this.#meta.authorization_endpoint)
    const params: Record<string, string> = {
      response_type: 'code',
      client_id: this.clientId,
      redirect_uri: this.redirectUri,
      scope: SCOPE,
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v)
    return { url: url.href, pending }
  }

  /** Complete a sign-in from the provider's redirect back to us. Throws a KuraError saying why it failed. */
  async finish(query: OidcCallbackQuery, pending: OidcPending): Promise<OidcIdentity> {
    // State first: an answer (even an error) that is not for this browser's sign-in is ignored as a whole.
    if (!query.state || !constantEqual(query.state, pending.state)) throw OidcErrors.stateMismatch()
    // RFC 9207: the iss parameter defends against mix-up; a provider that promises it must send it.
    if (query.iss !== undefined ? query.iss !== this.issuer : this.#meta.authorization_response_iss_parameter_supported === true) {
      throw OidcErrors.issuerMismatch(query.iss ?? '(none)')
    }
    if (query.error) throw OidcErrors.providerError(query.error, query.error_description)
    if (!query.code) throw OidcErrors.missingCode()

    const tokens = await this.#exchange(query.code, pending.codeVerifier)
    if (typeof tokens.id_token !== 'string') throw OidcErrors.tokenInvalid('the token response has no id_token')
    const claims = await verifyIdToken(tokens.id_token, {
      jwks: this.#jwks,
      issuer: this.issuer,
      clientId: this.clientId,
      nonce: pending.nonce,
      algorithms: this.#algorithms,
    })
    // Many providers (oidc-provider by default, per OIDC Core 5.4) put profile claims only in userinfo for the code flow.
    const lacksProfile = claims.email === undefined && claims.name === undefined && claims.preferred_username === undefined
    const extra = lacksProfile && typeof tokens.access_token === 'string' && this.#meta.userinfo_endpoint
      ? await this.#userinfo(tokens.access_token, claims.sub)
      : {}
    const merged: Record<string, unknown> = { ...extra, ...claims }
    const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined)
    const identity: OidcIdentity = { issuer: this.issuer, subject: claims.sub }
    if (str(merged.email)) identity.email = str(merged.email)
    // Some providers send "true"/"false" strings; anything else is not a verification.
    if (merged.email_verified !== undefined) identity.emailVerified = merged.email_verified === true || merged.email_verified === 'true'
    if (str(merged.name)) identity.name = str(merged.name)
    if (str(merged.preferred_username)) identity.preferredUsername = str(merged.preferred_username)
    return identity
  }

  /** Token request (RFC 6749 4.1.3 + RFC 7636 4.5): client_secret_basic with a secret, else a public client. */
  async #exchange(code: string, codeVerifier: string): Promise<{ id_token?: unknown; access_token?: unknown }> {
    const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: this.redirectUri, code_verifier: codeVerifier })
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }
    if (this.#clientSecret !== undefined) {
      const methods = this.#meta.token_endpoint_auth_methods_supported ?? ['client_secret_basic']
      if (methods.includes('client_secret_basic')) {
        // RFC 6749 2.3.1: id and secret are form-urlencoded before base64.
        const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+')
        headers.authorization = `Basic ${Buffer.from(`${enc(this.clientId)}:${enc(this.#clientSecret)}`).toString('base64')}`
      } else {
        body.set('client_id', this.clientId)
        body.set('client_secret', this.#clientSecret)
      }
    } else {
      body.set('client_id', this.clientId)
    }
    let res: Response
    let json: Record<string, unknown>
    try {
      res = await fetch(this.#meta.token_endpoint, { method: 'POST', headers, body, redirect: 'error', signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) })
      json = (await res.json()) as Record<string, unknown>
    } catch (e) {
      throw OidcErrors.unreachable('token endpoint', e)
    }
    if (!res.ok) {
      const error = typeof json?.error === 'string' ? json.error : `HTTP ${res.status}`
      const description = typeof json?.error_description === 'string' ? json.error_description : undefined
      if (res.status === 400 || res.status === 401) throw OidcErrors.codeRejected(error, description)
      throw OidcErrors.unreachable('token endpoint', new Error(`${error}${description ? `: ${description}` : ''}`))
    }
    if (json === null || typeof json !== 'object') throw OidcErrors.unreachable('token endpoint', new Error('token response is not a JSON object'))
    return json
  }

  /** Userinfo (OIDC Core 5.3): claims only count when their sub is the ID token's sub (5.3.2). */
  async #userinfo(accessToken: string, sub: string): Promise<Record<string, unknown>> {
    let res: Response
    try {
      res = await fetch(this.#meta.userinfo_endpoint!, {
        headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
        redirect: 'error',
        signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
      })
    } catch (e) {
      throw OidcErrors.unreachable('userinfo endpoint', e)
    }
    // A signed or encrypted userinfo (application/jwt) is not used: the ID token already identifies the user.
    if (!res.ok || !(res.headers.get('content-type') ?? '').includes('json')) {
      await res.body?.cancel()
      if (!res.ok) throw OidcErrors.unreachable('userinfo endpoint', new Error(`HTTP ${res.status}`))
      return {}
    }
    let info: Record<string, unknown>
    try {
      info = (await res.json()) as Record<string, unknown>
    } catch (e) {
      throw OidcErrors.unreachable('userinfo endpoint', e)
    }
    if (info === null || typeof info !== 'object' || info.sub !== sub) throw OidcErrors.tokenInvalid('userinfo is about another subject')
    return info
  }
}
