/**
 * OpenID Connect sign-in through the whole hub, against a real oidc-provider: the first sign-in
 * creates a user with no grants (who may see nothing until an administrator grants a role), a
 * second sign-in finds the same user, and the session works like a password session.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { freePort, startProvider, TestBrowser, type TestProvider } from '../packages/hub/src/auth/oidc-test-provider.ts'
import { startTestHub, type TestHub } from './support/hub.ts'

describe('OIDC sign-in on the hub', () => {
  let op: TestProvider
  let hub: TestHub
  let base: string

  before(async () => {
    const port = await freePort()
    base = `http://127.0.0.1:${port}`
    const secret = 'hub-test-client-secret-0123456789abcdef'
    op = await startProvider({
      clients: [{ client_id: 'kura', client_secret: secret, redirect_uris: [`${base}/api/auth/oidc/callback`] }],
      accounts: { 'dr-sato': { email: 'sato@hospital.example', email_verified: true, name: '佐藤 花子', preferred_username: 'hsato' } },
    })
    hub = await startTestHub({ port, config: { publicUrl: base, oidc: { issuer: op.issuer, clientId: 'kura', clientSecret: secret, name: 'Hospital IdP' } } })
  })
  after(async () => {
    await hub?.close()
    await op?.close()
  })

  async function signIn(): Promise<TestBrowser> {
    const browser = new TestBrowser()
    const start = await browser.get(`${base}/api/auth/oidc/login`)
    assert.equal(start.status, 302)
    const back = await browser.signIn(start.headers.get('location')!, `${base}/api/auth/oidc/callback`, { login: 'dr-sato' })
    const done = await browser.get(back.href)
    assert.equal(done.status, 302)
    assert.equal(done.headers.get('location'), '/')
    assert.ok(browser.cookies.has('kura_session'))
    return browser
  }

  it('offers the provider on the sign-in page', async () => {
    const cfg = (await (await fetch(`${base}/api/auth/config`)).json()) as any
    assert.deepEqual(cfg, { local: true, oidc: { name: 'Hospital IdP' } })
  })

  it('creates the user at first sign-in with no access, and links the same user the next time', async () => {
    const browser = await signIn()
    const me = (await (await browser.get(`${base}/api/session`)).json()) as any
    assert.equal(me.user.username, 'hsato')
    assert.equal(me.user.displayName, '佐藤 花子')
    assert.equal(me.user.oidc, true)
    assert.deepEqual(me.grants, [])
    assert.equal((await browser.get(`${base}/dicomweb/studies`)).status, 403)

    const users = (await (await hub.fetch(`${base}/api/users`)).json()) as any[]
    const sato = users.find((u) => u.username === 'hsato')
    await hub.fetch(`${base}/api/collections`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'endo' }) })
    const g = await hub.fetch(`${base}/api/grants`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: sato.id, role: 'researcher', collection: 'endo' }) })
    assert.equal(g.status, 201)

    const again = await signIn()
    const me2 = (await (await again.get(`${base}/api/session`)).json()) as any
    assert.equal(me2.user.id, me.user.id)
    assert.deepEqual(me2.grants.map((x: any) => [x.role, x.collection]), [['researcher', 'endo']])
    assert.equal((await again.get(`${base}/dicomweb/studies`)).status, 200)

    const { events } = (await (await hub.fetch(`${base}/api/audit?action=auth.oidc`)).json()) as any
    assert.equal(events.length, 2)
    assert.equal(events[0].actor, 'hsato')
  })
})
