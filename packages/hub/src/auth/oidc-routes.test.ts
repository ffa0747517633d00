/**
 * The /api/auth/oidc routes on a bare Fastify app, driven like a browser: /login → the real
 * oidc-provider's sign-in and consent pages → /callback. Checks what reaches `signIn`, the
 * redirects, the pending cookie, and that every failure lands on /signin?error=CODE.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import cookie from '@fastify/cookie'
import { KuraError } from '@kura/core'
import { OidcClient, type OidcIdentity } from './oidc.ts'
import { oidcRoutes, PENDING_COOKIE } from './oidc-routes.ts'
import { permissionsPlugin, routeTable } from './permissions.ts'
import { freePort, startProvider, TestBrowser, type TestProvider } from './oidc-test-provider.ts'

describe('OIDC routes', () => {
  let op: TestProvider
  let app: FastifyInstance
  let base: string
  let callback: string
  const signIns: OidcIdentity[] = []
  let signInFails: KuraError | null = null
  const logLines: string[] = []

  before(async () => {
    const port = await freePort()
    base = `http://127.0.0.1:${port}`
    callback = `${base}/api/auth/oidc/callback`
    op = await startProvider({
      clients: [{ client_id: 'kura-hub', client_secret: 'routes-test-client-secret-0123456789abcdef', redirect_uris: [callback] }],
      accounts: { alice: { email: 'alice@hospital.example', email_verified: true, name: 'Alice' } },
    })
    const client = await OidcClient.discover({ issuer: op.issuer, clientId: 'kura-hub', clientSecret: 'routes-test-client-secret-0123456789abcdef', name: 'Test IdP', redirectUri: callback })
    const stream = new Writable({ write(chunk, _enc, done) { logLines.push(String(chunk)); done() } })
    app = Fastify({ logger: { level: 'info', stream } })
    await app.register(permissionsPlugin)
    await app.register(cookie, { secret: 'routes-test-cookie-secret-0123456789abcdef' })
    await app.register(oidcRoutes, {
      prefix: '/api/auth/oidc',
      client,
      secure: false,
      signIn: async (_req, reply, identity) => {
        if (signInFails) throw signInFails
        signIns.push(identity)
        reply.setCookie('kura_session', 'session-for-test', { path: '/', httpOnly: true })
      },
    })
    await app.listen({ port, host: '127.0.0.1' })
  })
  after(async () => {
    await app.close()
    await op.close()
  })

  /** /login then the provider's pages; returns the browser (holding the pending cookie) and the callback URL. */
  async function toCallback(opts: { abort?: boolean } = {}): Promise<{ browser: TestBrowser; back: URL; loginRes: Response }> {
    const browser = new TestBrowser()
    const loginRes = await browser.get(`${base}/api/auth/oidc/login`)
    assert.equal(loginRes.status, 302)
    const back = await browser.signIn(loginRes.headers.get('location')!, callback, { login: 'alice', abort: opts.abort })
    return { browser, back, loginRes }
  }

  test('both routes are declared public', () => {
    const ours = routeTable.filter((r) => r.url.startsWith('/api/auth/oidc'))
    assert.deepEqual(ours, [
      { method: 'GET', url: '/api/auth/oidc/login', permission: 'public' },
      { method: 'GET', url: '/api/auth/oidc/callback', permission: 'public' },
    ])
  })

  test('login → provider → callback signs in and lands on /', async () => {
    const before = signIns.length
    const { browser, back, loginRes } = await toCallback()
    assert.ok(loginRes.headers.get('location')!.startsWith(`${op.issuer}/auth?`))
    const set = loginRes.headers.getSetCookie().find((c) => c.startsWith(`${PENDING_COOKIE}=`))!
    assert.match(set, /; Max-Age=600/)
    assert.match(set, /; Path=\/api\/auth\/oidc/)
    assert.match(set, /; HttpOnly/)
    assert.match(set, /; SameSite=Lax/)
    assert.doesNotMatch(set, /; Secure/)

    const res = await browser.get(back.href)
    assert.equal(res.status, 302)
    assert.equal(res.headers.get('location'), '/')
    assert.equal(res.headers.get('cache-control'), 'no-store')
    assert.equal(signIns.length, before + 1)
    assert.deepEqual(signIns.at(-1), { issuer: op.issuer, subject: 'alice', email: 'alice@hospital.example', emailVerified: true, name: 'Alice' })
    assert.equal(browser.cookies.get('kura_session'), 'session-for-test')
    assert.ok(!browser.cookies.has(PENDING_COOKIE), 'the pending cookie is cleared')

    // Replaying the same callback (pending cookie gone) does not sign in again.
    browser.cookies.set(PENDING_COOKIE, 'x')
    const again = await browser.get(back.href)
    assert.equal(again.headers.get('location'), '/signin?error=OIDC_PENDING_MISSING')
    assert.equal(signIns.length, before + 1)
  })

  test('an absent or tampered pending cookie goes to /signin without signing in', async () => {
    const before = signIns.length
    const { browser, back } = await toCallback()
    const genuine = browser.cookies.get(PENDING_COOKIE)!
    assert.ok(genuine.includes('.'), 'the cookie is signed')

    browser.cookies.delete(PENDING_COOKIE)
    const absent = await browser.get(back.href)
    assert.equal(absent.status, 302)
    assert.equal(absent.headers.get('location'), '/signin?error=OIDC_PENDING_MISSING')

    // Same signature, altered payload (another nonce): the signature check catches it.
    const [payload, sig] = decodeURIComponent(genuine).split('.')
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), n: 'A'.repeat(43) })).toString('base64url')
    assert.notEqual(forged, payload)
    browser.cookies.set(PENDING_COOKIE, encodeURIComponent(`${forged}.${sig}`))
    const tampered = await browser.get(back.href)
    assert.equal(tampered.headers.get('location'), '/signin?error=OIDC_PENDING_MISSING')
    assert.equal(signIns.length, before, 'signIn was not called')

    // The failures spent nothing: the genuine cookie still completes this sign-in.
    browser.cookies.set(PENDING_COOKIE, genuine)
    const ok = await browser.get(back.href)
    assert.equal(ok.headers.get('location'), '/')
    assert.equal(signIns.length, before + 1)
  })

  test('a sign-in started again in another tab makes the older answer fail on state', async () => {
    const before = signIns.length
    const { browser, back } = await toCallback()
    const second = await browser.get(`${base}/api/auth/oidc/login`) // overwrites the pending cookie
    await second.body?.cancel()
    const res = await browser.get(back.href)
    assert.equal(res.headers.get('location'), '/signin?error=OIDC_STATE_MISMATCH')
    assert.equal(signIns.length, before)
    assert.ok(logLines.some((l) => l.includes('OIDC_STATE_MISMATCH') && l.includes('OIDC sign-in failed')), 'the reason is logged')
    const code = back.searchParams.get('code')!
    assert.ok(!logLines.some((l) => l.includes(code)), 'the authorization code never reaches the log')
  })

  test('declining at the provider goes to /signin with the provider-error code only', async () => {
    const before = signIns.length
    const { browser, back } = await toCallback({ abort: true })
    assert.equal(back.searchParams.get('error'), 'access_denied')
    const res = await browser.get(back.href)
    assert.equal(res.headers.get('location'), '/signin?error=OIDC_PROVIDER_ERROR')
    assert.equal(signIns.length, before)
  })

  test('a refusal from signIn (e.g. a disabled account) is passed on as its code', async () => {
    const { browser, back } = await toCallback()
    signInFails = new KuraError('ACCOUNT_DISABLED', 'This account is disabled.', { status: 403 })
    try {
      const res = await browser.get(back.href)
      assert.equal(res.headers.get('location'), '/signin?error=ACCOUNT_DISABLED')
      assert.ok(!browser.cookies.has('kura_session'))
    } finally {
      signInFails = null
    }
  })
})

test('the routes refuse to start without @fastify/cookie', async () => {
  const app = Fastify()
  const client = {} as OidcClient // never called: registration fails first
  await assert.rejects(async () => {
    await app.register(oidcRoutes, { prefix: '/api/auth/oidc', client, secure: false, signIn: async () => {} })
    await app.ready()
  }, /@fastify\/cookie/)
})
