/**
 * OIDC relying party against a real OpenID Provider (`oidc-provider`, certified) started here:
 * the whole authorization code + PKCE flow through the provider's own sign-in and consent
 * pages, and each way a sign-in must fail.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createRemoteJWKSet, exportJWK, generateKeyPair, importJWK, SignJWT, UnsecuredJWT, type JWTPayload } from 'jose'
import { KuraError } from '@kura/core'
import { OidcClient, verifyIdToken, type OidcPending } from './oidc.ts'
import { startProvider, TestBrowser, type TestProvider } from './oidc-test-provider.ts'

const REDIRECT = 'http://127.0.0.1:9/api/auth/oidc/callback' // never fetched: the browser stops at it
const ALICE = { email: 'alice@hospital.example', email_verified: true, name: 'Alice Tanaka', preferred_username: 'atanaka' }

/** Assert that `p` rejects with a KuraError of this code; returns it for further checks. */
async function rejectsWith(p: Promise<unknown>, code: string): Promise<KuraError> {
  try {
    await p
  } catch (e) {
    assert.ok(e instanceof KuraError, `expected KuraError ${code}, got ${String(e)}`)
    assert.equal(e.code, code, e.message)
    return e
  }
  assert.fail(`expected ${code}, but it succeeded`)
}

describe('OIDC sign-in against oidc-provider', () => {
  let op: TestProvider
  let client: OidcClient

  before(async () => {
    op = await startProvider({
      clients: [{ client_id: 'kura-hub', client_secret: 'a-long-enough-client-secret-for-tests-0123456789', redirect_uris: [REDIRECT] }],
      accounts: { alice: ALICE, bob: {} },
    })
    client = await OidcClient.discover({ issuer: op.issuer, clientId: 'kura-hub', clientSecret: 'a-long-enough-client-secret-for-tests-0123456789', name: 'Test IdP', redirectUri: REDIRECT })
  })
  after(() => op.close())

  /** begin() and walk the provider's pages as `login`; returns the callback query and the pending values. */
  async function authorize(login = 'alice', abort = false): Promise<{ query: Record<string, string>; pending: OidcPending }> {
    const { url, pending } = client.begin()
    const back = await new TestBrowser().signIn(url, REDIRECT, { login, abort })
    return { query: Object.fromEntries(back.searchParams), pending }
  }

  test('the authorization request uses code + PKCE S256 with fresh state and nonce', () => {
    const a = client.begin()
    const b = client.begin()
    const u = new URL(a.url)
    assert.equal(u.origin + u.pathname, `${op.issuer}/auth`)
    assert.equal(u.searchParams.get('response_type'), 'code')
    assert.equal(u.searchParams.get('client_id'), 'kura-hub')
    assert.equal(u.searchParams.get('redirect_uri'), REDIRECT)
    assert.equal(u.searchParams.get('scope'), 'openid profile email')
    assert.equal(u.searchParams.get('code_challenge_method'), 'S256')
    assert.equal(u.searchParams.get('state'), a.pending.state)
    assert.equal(u.searchParams.get('nonce'), a.pending.nonce)
    assert.equal(u.searchParams.get('code_challenge')?.length, 43)
    assert.ok(!a.url.includes(a.pending.codeVerifier), 'the verifier itself never goes to the provider in the front channel')
    assert.notEqual(a.pending.state, b.pending.state)
    assert.notEqual(a.pending.nonce, b.pending.nonce)
    assert.notEqual(a.pending.codeVerifier, b.pending.codeVerifier)
  })

  test('the full flow returns who signed in (profile claims from userinfo)', async () => {
    const { query, pending } = await authorize('alice')
    assert.ok(query.code && query.state === pending.state)
    const identity = await client.finish(query, pending)
    assert.deepEqual(identity, {
      issuer: op.issuer,
      subject: 'alice',
      email: 'alice@hospital.example',
      emailVerified: true,
      name: 'Alice Tanaka',
      preferredUsername: 'atanaka',
    })
  })

  test('an account without profile claims signs in with just its subject', async () => {
    const { query, pending } = await authorize('bob')
    assert.deepEqual(await client.finish(query, pending), { issuer: op.issuer, subject: 'bob' })
  })

  test('a wrong state is rejected before the code is used', async () => {
    const { query, pending } = await authorize()
    const last = pending.state.at(-1) === 'A' ? 'B' : 'A'
    await rejectsWith(client.finish({ ...query, state: `${pending.state.slice(0, -1)}${last}` }, pending), 'OIDC_STATE_MISMATCH')
    await rejectsWith(client.finish({ ...query, state: undefined }, pending), 'OIDC_STATE_MISMATCH')
    // The code was not spent: the genuine answer still completes.
    assert.equal((await client.finish(query, pending)).subject, 'alice')
  })

  test('an answer naming another issuer (mix-up) is rejected', async () => {
    const { query, pending } = await authorize()
    assert.equal(query.iss, op.issuer, 'oidc-provider sends RFC 9207 iss')
    await rejectsWith(client.finish({ ...query, iss: 'https://evil.example' }, pending), 'OIDC_ISSUER_MISMATCH')
    await rejectsWith(client.finish({ ...query, iss: undefined }, pending), 'OIDC_ISSUER_MISMATCH')
  })

  test('the user declining at the provider surfaces access_denied clearly', async () => {
    const { query, pending } = await authorize('alice', true)
    assert.equal(query.error, 'access_denied')
    const e = await rejectsWith(client.finish(query, pending), 'OIDC_PROVIDER_ERROR')
    assert.match(e.message, /access_denied/)
    assert.match(e.message, /aborted/, 'the provider error_description is passed on')
    assert.equal(e.status, 401)
  })

  test('a replayed code is refused by the provider', async () => {
    const { query, pending } = await authorize()
    await client.finish(query, pending)
    const e = await rejectsWith(client.finish(query, pending), 'OIDC_CODE_REJECTED')
    assert.match(e.message, /invalid_grant/)
  })

  test('a wrong PKCE verifier is refused by the provider', async () => {
    const { query, pending } = await authorize()
    await rejectsWith(client.finish(query, { ...pending, codeVerifier: 'x'.repeat(43) }), 'OIDC_CODE_REJECTED')
  })

  test('an ID token for another nonce is rejected', async () => {
    const { query, pending } = await authorize()
    const e = await rejectsWith(client.finish(query, { ...pending, nonce: 'a-nonce-of-another-sign-in-000000000000000' }), 'OIDC_TOKEN_INVALID')
    assert.match(e.message, /nonce/)
  })

  test('a client secret the provider does not know is refused', async () => {
    const wrong = await OidcClient.discover({ issuer: op.issuer, clientId: 'kura-hub', clientSecret: 'not-the-secret', name: 'x', redirectUri: REDIRECT })
    const { url, pending } = wrong.begin()
    const back = await new TestBrowser().signIn(url, REDIRECT, { login: 'alice' })
    const e = await rejectsWith(wrong.finish(Object.fromEntries(back.searchParams), pending), 'OIDC_CODE_REJECTED')
    assert.match(e.message, /invalid_client/)
  })

  describe('discovery', () => {
    test('an issuer that differs from the provider\'s own, even by a slash, is refused', async () => {
      const e = await rejectsWith(OidcClient.discover({ issuer: `${op.issuer}/`, clientId: 'kura-hub', name: 'x', redirectUri: REDIRECT }), 'OIDC_DISCOVERY_FAILED')
      assert.match(e.message, /calls itself/)
    })
    test('an unreachable provider and a plain-http remote issuer are refused with what to check', async () => {
      const closed = await startProvider({ clients: [], accounts: {} })
      await closed.close()
      const e = await rejectsWith(OidcClient.discover({ issuer: closed.issuer, clientId: 'c', name: 'x', redirectUri: REDIRECT }), 'OIDC_DISCOVERY_FAILED')
      assert.match(e.message, /KURA_OIDC_ISSUER/)
      await rejectsWith(OidcClient.discover({ issuer: 'http://idp.hospital.example', clientId: 'c', name: 'x', redirectUri: REDIRECT }), 'OIDC_DISCOVERY_FAILED')
    })
  })

  describe('verifyIdToken', () => {
    const nonce = 'n-0123456789'
    const claims = (extra: JWTPayload = {}): JWTPayload => ({ iss: op.issuer, aud: 'kura-hub', sub: 'alice', nonce, ...extra })
    const jwks = () => createRemoteJWKSet(new URL(`${op.issuer}/jwks`))
    const opts = () => ({ jwks: jwks(), issuer: op.issuer, clientId: 'kura-hub', nonce, algorithms: ['RS256'] })
    async function sign(payload: JWTPayload, key = op.signingKey, header: Record<string, unknown> = {}): Promise<string> {
      const now = Math.floor(Date.now() / 1000)
      return new SignJWT({ iat: now, exp: now + 300, ...payload })
        .setProtectedHeader({ alg: 'RS256', kid: key.kid, ...header })
        .sign(await importJWK(key, 'RS256'))
    }

    test('a token signed with the provider\'s key and the right claims passes', async () => {
      const payload = await verifyIdToken(await sign(claims()), opts())
      assert.equal(payload.sub, 'alice')
    })

    test('a token signed by a key not in the provider\'s JWKS is rejected', async () => {
      const { privateKey } = await generateKeyPair('RS256', { extractable: true })
      const stranger = { ...(await exportJWK(privateKey)), kid: op.signingKey.kid }
      const e = await rejectsWith(verifyIdToken(await sign(claims(), stranger), opts()), 'OIDC_TOKEN_INVALID')
      assert.match(e.message, /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/)
      await rejectsWith(verifyIdToken(await sign(claims(), { ...stranger, kid: 'unknown-kid' }), opts()), 'OIDC_TOKEN_INVALID')
    })

    test('unsigned and HMAC tokens are rejected', async () => {
      const unsecured = new UnsecuredJWT(claims()).setIssuedAt().setExpirationTime('5m').encode()
      await rejectsWith(verifyIdToken(unsecured, opts()), 'OIDC_TOKEN_INVALID')
      const hmac = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('5m')
        .sign(new TextEncoder().encode('a-long-enough-client-secret-for-tests-0123456789'))
      await rejectsWith(verifyIdToken(hmac, { ...opts(), algorithms: ['RS256', 'HS256'] }), 'OIDC_TOKEN_INVALID')
    })

    test('wrong issuer, audience, expiry or a future iat is rejected', async () => {
      await rejectsWith(verifyIdToken(await sign(claims({ iss: 'https://other.example' })), opts()), 'OIDC_TOKEN_INVALID')
      await rejectsWith(verifyIdToken(await sign(claims({ aud: 'another-client' })), opts()), 'OIDC_TOKEN_INVALID')
      const now = Math.floor(Date.now() / 1000)
      await rejectsWith(verifyIdToken(await sign(claims({ exp: now - 120 })), opts()), 'OIDC_TOKEN_INVALID')
      await rejectsWith(verifyIdToken(await sign(claims({ iat: now + 600 })), opts()), 'OIDC_TOKEN_INVALID')
      // Within the clock tolerance a slightly-early iat is fine.
      await verifyIdToken(await sign(claims({ iat: now + 20 })), opts())
    })

    test('a key set that cannot be fetched is reported as the provider being unreachable', async () => {
      const gone = await startProvider({ clients: [], accounts: {} })
      await gone.close()
      const jwksGone = createRemoteJWKSet(new URL(`${gone.issuer}/jwks`))
      await rejectsWith(verifyIdToken(await sign(claims()), { ...opts(), jwks: jwksGone }), 'OIDC_PROVIDER_UNREACHABLE')
    })

    test('several audiences need azp naming this client', async () => {
      const aud = ['kura-hub', 'another-client']
      const e = await rejectsWith(verifyIdToken(await sign(claims({ aud })), opts()), 'OIDC_TOKEN_INVALID')
      assert.match(e.message, /azp/)
      await rejectsWith(verifyIdToken(await sign(claims({ aud, azp: 'another-client' })), opts()), 'OIDC_TOKEN_INVALID')
      assert.equal((await verifyIdToken(await sign(claims({ aud, azp: 'kura-hub' })), opts())).sub, 'alice')
    })
  })
})

describe('OIDC sign-in as a public client with claims in the ID token', () => {
  test('token exchange with client_id only (no secret) and PKCE; claims read from the ID token', async () => {
    const op = await startProvider({
      clients: [{ client_id: 'kura-public', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' }],
      accounts: { carol: { email: 'carol@hospital.example', email_verified: false, name: 'Carol' } },
      conformIdTokenClaims: false,
    })
    try {
      const client = await OidcClient.discover({ issuer: op.issuer, clientId: 'kura-public', name: 'x', redirectUri: REDIRECT })
      const { url, pending } = client.begin()
      const back = await new TestBrowser().signIn(url, REDIRECT, { login: 'carol' })
      const identity = await client.finish(Object.fromEntries(back.searchParams), pending)
      assert.deepEqual(identity, { issuer: op.issuer, subject: 'carol', email: 'carol@hospital.example', emailVerified: false, name: 'Carol' })
    } finally {
      await op.close()
    }
  })
})
