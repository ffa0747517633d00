/**
 * Access control end to end: the route matrix (every declared route × every role ×
 * unauthenticated), collection isolation, sign-in with lockout, CSRF, and tokens that are never
 * stronger than their owner.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ROLES, type Role } from '@kura/hub'
import { startTestHub, stowBody, PYDICOM_FILES, type TestHub } from './support/hub.ts'

/** What each role may do, restated here on purpose: the test must not read the code's table. */
const ALLOWED: Record<Role, string[]> = {
  admin: ['study:read', 'study:write', 'study:delete', 'quarantine:review', 'annotation:write', 'annotation:review', 'audit:read', 'admin'],
  curator: ['study:read', 'study:write', 'study:delete', 'quarantine:review', 'annotation:write', 'annotation:review'],
  site_uploader: ['study:write'],
  annotator: ['study:read', 'annotation:write'],
  reviewer: ['study:read', 'annotation:write', 'annotation:review'],
  researcher: ['study:read'],
  educator: ['study:read'],
  auditor: ['audit:read'],
}

interface Actor {
  role: Role
  token: string
  userId: string
}

describe('access control', () => {
  let hub: TestHub
  const actors: Actor[] = []
  let studyA: { study: string; series: string; sop: string }
  let studyB: { study: string; series: string; sop: string }
  const admin = (path: string, init: RequestInit = {}) => hub.fetch(`${hub.url}${path}`, { ...init, headers: init.body ? { 'content-type': 'application/json', ...(init.headers as object) } : init.headers })
  const as = (token: string | null, path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers)
    if (token) headers.set('authorization', `Bearer ${token}`)
    return globalThis.fetch(`${hub.url}${path}`, { ...init, headers })
  }

  async function stowTo(collection: string, file: string): Promise<{ study: string; series: string; sop: string }> {
    const { body, contentType } = stowBody([await readFile(join(PYDICOM_FILES, file))])
    const res = await hub.fetch(`${hub.dicomweb}/studies?collection=${collection}`, { method: 'POST', headers: { 'content-type': contentType, accept: 'application/dicom+json' }, body })
    assert.equal(res.status, 200, await res.clone().text())
    const url = ((await res.json()) as any)['00081199'].Value[0]['00081190'].Value[0] as string
    const [, , , study, , series, , sop] = new URL(url).pathname.split('/')
    return { study: study!, series: series!, sop: sop! }
  }

  before(async () => {
    hub = await startTestHub()
    for (const name of ['coll-a', 'coll-b']) assert.equal((await admin('/api/collections', { method: 'POST', body: JSON.stringify({ name }) })).status, 201)
    assert.equal((await admin('/api/sites', { method: 'POST', body: JSON.stringify({ name: 'site-1' }) })).status, 201)
    studyA = await stowTo('coll-a', 'CT_small.dcm')
    studyB = await stowTo('coll-b', 'MR_small.dcm')
    for (const role of ROLES) {
      const u = (await (await admin('/api/users', { method: 'POST', body: JSON.stringify({ username: `u-${role}` }) })).json()) as any
      const collection = role === 'admin' || role === 'auditor' ? undefined : 'coll-a'
      if (role === 'admin') {
        assert.equal((await admin(`/api/users/${u.user.id}`, { method: 'PATCH', body: JSON.stringify({ isAdmin: true }) })).status, 200)
      } else {
        const g = await admin('/api/grants', { method: 'POST', body: JSON.stringify({ userId: u.user.id, role, collection, site: role === 'site_uploader' ? 'site-1' : undefined }) })
        assert.equal(g.status, 201, await g.text())
      }
      // Tokens are issued by an admin here; the owner's own grants still bound them.
      const { createToken } = await import('@kura/hub')
      const { token } = await createToken(hub.archive.catalog.db, { userId: u.user.id, name: 'matrix', role, collection, site: role === 'site_uploader' ? 'site-1' : undefined })
      actors.push({ role, token, userId: u.user.id })
    }
  })
  after(async () => hub?.close())

  /** A concrete request for a declared route: real ids for reads, harmless ones for changes. */
  function requestFor(method: string, url: string): { path: string; init: RequestInit } {
    const harmless = method !== 'GET'
    const ids = harmless ? { study: '1.2.3.999', series: '1.2.3.998', sop: '1.2.3.997' } : studyA
    const path = url
      .replace(':study', ids.study)
      .replace(':series', ids.series)
      .replace(':sop', ids.sop)
      .replace(':frames', '1')
      .replace(':id', '00000000-0000-7000-8000-000000000000')
      .replace(':item', '00000000-0000-7000-8000-000000000000')
      .replace(':name', 'no-such-collection')
      .replace('/bulk/*', '/bulk/7FE00010')
      .replace('/assets/*', '/assets/none.js')
      .replace(/\/\*$/, '/some/page')
    if (method === 'GET') return { path, init: {} }
    // Bodies that an allowed caller gets refused for content (400/415/404), never by access.
    const init: RequestInit = { method, headers: { 'content-type': 'application/json' }, body: method === 'DELETE' ? undefined : '{}' }
    if (method === 'DELETE') delete (init as { headers?: unknown }).headers
    if (url.startsWith('/dicomweb') && method === 'POST') return { path: `${path}?collection=coll-a`, init: { method, headers: { 'content-type': 'text/plain' }, body: 'x' } }
    return { path, init }
  }

  it('walks every declared route for every role and for no one', async () => {
    const routes = hub.app.declaredRoutes
    assert.ok(routes.length >= 45, `${routes.length} routes`)
    // No data endpoint is public: only health, sign-in and the application's static files.
    assert.deepEqual(
      routes.filter((r) => r.permission === 'public').map((r) => `${r.method} ${r.url}`),
      ['GET /healthz', 'GET /api/auth/config', 'POST /api/auth/login', 'GET /assets/*', 'GET /', 'GET /*'],
    )
    let checked = 0
    for (const r of routes) {
      if (r.url === '/api/auth/logout' || r.url === '/api/auth/login') continue // sessions; tested below
      const { path, init } = requestFor(r.method, r.url)
      const anon = await as(null, path, init)
      if (r.permission === 'public') assert.notEqual(anon.status, 401, `${r.method} ${path} anonymous`)
      else {
        assert.equal(anon.status, 401, `${r.method} ${path} anonymous`)
        assert.equal(((await anon.json()) as any).code, 'UNAUTHENTICATED')
      }
      for (const a of actors) {
        const res = await as(a.token, path, init)
        const text = await res.text()
        const allowed = r.permission === 'public' || r.permission === 'authenticated' || ALLOWED[a.role].includes(r.permission)
        if (allowed) {
          assert.ok(res.status !== 401 && res.status !== 403, `${a.role} ${r.method} ${path}: ${res.status} ${text.slice(0, 200)}`)
        } else {
          assert.equal(res.status, 403, `${a.role} ${r.method} ${path}: ${res.status}`)
          // The refusal is the same fixed message whatever exists: nothing about the data leaks.
          assert.deepEqual(Object.keys(JSON.parse(text)), ['code', 'message'])
          assert.equal(JSON.parse(text).code, 'FORBIDDEN')
          assert.ok(!text.includes(studyA.study) && !text.includes('CompressedSamples'), text)
        }
        checked++
      }
    }
    assert.ok(checked > 300, `${checked} checks`)
  })

  it('shows each principal only its own collections', async () => {
    const researcher = actors.find((a) => a.role === 'researcher')!
    const studies = (await (await as(researcher.token, '/dicomweb/studies')).json()) as any[]
    assert.deepEqual(studies.map((s) => s['0020000D'].Value[0]), [studyA.study])
    const asked = (await (await as(researcher.token, '/dicomweb/studies?collection=coll-b')).json()) as any[]
    assert.equal(asked.length, 0)
    const instances = (await (await as(researcher.token, '/dicomweb/instances')).json()) as any[]
    assert.deepEqual(instances.map((s) => s['00080018'].Value[0]), [studyA.sop])
    // Another collection's study answers exactly like one that does not exist.
    const hidden = await as(researcher.token, `/dicomweb/studies/${studyB.study}/metadata`)
    const missing = await as(researcher.token, `/dicomweb/studies/1.2.3.4.5.6/metadata`)
    assert.equal(hidden.status, 404)
    assert.equal(missing.status, 404)
    assert.equal(((await hidden.json()) as any).code, ((await missing.json()) as any).code)
    assert.equal((await as(researcher.token, `/dicomweb/studies/${studyB.study}/series/${studyB.series}/instances/${studyB.sop}/thumbnail`)).status, 404)
    const curator = actors.find((a) => a.role === 'curator')!
    assert.equal((await as(curator.token, `/dicomweb/studies/${studyB.study}`, { method: 'DELETE' })).status, 404)
    assert.equal((await hub.fetch(`${hub.dicomweb}/studies/${studyB.study}/metadata`)).status, 200, 'B is still there')
    const colls = (await (await as(researcher.token, '/api/collections')).json()) as any[]
    assert.deepEqual(colls.map((c) => c.name), ['coll-a'])
  })

  it('lets a site uploader store into its collection only, and never read back', async () => {
    const uploader = actors.find((a) => a.role === 'site_uploader')!
    const { body, contentType } = stowBody([await readFile(join(PYDICOM_FILES, 'rtdose_rle.dcm'))])
    const intoB = await as(uploader.token, '/dicomweb/studies?collection=coll-b', { method: 'POST', headers: { 'content-type': contentType }, body })
    assert.equal(intoB.status, 403)
    const intoA = await as(uploader.token, '/dicomweb/studies?collection=coll-a', { method: 'POST', headers: { 'content-type': contentType }, body })
    assert.equal(intoA.status, 200)
    assert.equal((await as(uploader.token, '/dicomweb/studies')).status, 403)

    // Its own site's uploads only: not into a study a curator stored, nor one another site sent.
    const adminStudy = stowBody([await readFile(join(PYDICOM_FILES, 'CT_small.dcm'))])
    const intoAdmins = await as(uploader.token, '/dicomweb/studies?collection=coll-a', { method: 'POST', headers: { 'content-type': adminStudy.contentType, accept: 'application/dicom+json' }, body: adminStudy.body })
    assert.equal(intoAdmins.status, 409)
    assert.match(JSON.stringify(await intoAdmins.json()), /ARCHIVE_OTHER_SITE/)
    assert.equal((await admin('/api/sites', { method: 'POST', body: JSON.stringify({ name: 'site-2' }) })).status, 201)
    const u2 = (await (await admin('/api/users', { method: 'POST', body: JSON.stringify({ username: 'u-site-2' }) })).json()) as any
    assert.equal((await admin('/api/grants', { method: 'POST', body: JSON.stringify({ userId: u2.user.id, role: 'site_uploader', collection: 'coll-a', site: 'site-2' }) })).status, 201)
    const { createToken } = await import('@kura/hub')
    const { token: other } = await createToken(hub.archive.catalog.db, { userId: u2.user.id, name: 'site-2', role: 'site_uploader', collection: 'coll-a', site: 'site-2' })
    const again = await as(other, '/dicomweb/studies?collection=coll-a', { method: 'POST', headers: { 'content-type': contentType, accept: 'application/dicom+json' }, body })
    assert.equal(again.status, 409, 'site-2 may not add to the study site-1 sent')
    assert.match(JSON.stringify(await again.json()), /ARCHIVE_OTHER_SITE/)
    const resend = await as(uploader.token, '/dicomweb/studies?collection=coll-a', { method: 'POST', headers: { 'content-type': contentType }, body })
    assert.equal(resend.status, 200, 'site-1 may resend its own')
  })

  it('keeps tokens within their owner\'s grants, and revocation and grant removal take effect', async () => {
    const researcher = actors.find((a) => a.role === 'researcher')!
    // The researcher asks for a curator token: refused, it would exceed their grant.
    const login = await loginAs('u-researcher')
    const refused = await as(null, '/api/tokens', { method: 'POST', headers: { cookie: login.cookie, 'x-csrf-token': login.csrf, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x', role: 'curator', collection: 'coll-a' }) })
    assert.equal(refused.status, 403)
    const made = await as(null, '/api/tokens', { method: 'POST', headers: { cookie: login.cookie, 'x-csrf-token': login.csrf, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'mine', role: 'researcher', collection: 'coll-a' }) })
    assert.equal(made.status, 201)
    const { token, info } = (await made.json()) as any
    assert.equal((await as(token, '/dicomweb/studies')).status, 200)
    // Revoked: refused at once (same process) with 401.
    const revoked = await as(null, `/api/tokens/${info.id}`, { method: 'DELETE', headers: { cookie: login.cookie, 'x-csrf-token': login.csrf } })
    assert.equal(revoked.status, 204, await revoked.text())
    assert.equal((await as(token, '/dicomweb/studies')).status, 401)
    // A token issued while the grant existed loses its power with the grant.
    const grants = (await (await admin(`/api/grants?user=${researcher.userId}`)).json()) as any[]
    assert.equal((await admin(`/api/grants/${grants[0].id}`, { method: 'DELETE' })).status, 204)
    assert.equal((await as(researcher.token, '/dicomweb/studies')).status, 403)
    const back = await admin('/api/grants', { method: 'POST', body: JSON.stringify({ userId: researcher.userId, role: 'researcher', collection: 'coll-a' }) })
    assert.equal(back.status, 201)
    assert.equal((await as(researcher.token, '/dicomweb/studies')).status, 200)
  })

  async function loginAs(username: string): Promise<{ cookie: string; csrf: string }> {
    const users = (await (await admin('/api/users')).json()) as any[]
    const u = users.find((x) => x.username === username)
    // A fresh one-time password through the admin API is not offered; set one straight in the catalog.
    const { hashPassword } = await import('../packages/hub/src/auth/passwords.ts')
    await hub.archive.catalog.db.updateTable('user').set({ password_hash: await hashPassword('correct horse battery'), must_change_password: 0 }).where('id', '=', u.id).execute()
    const res = await as(null, '/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: 'correct horse battery' }) })
    assert.equal(res.status, 200)
    const cookie = res.headers.get('set-cookie')!.split(';')[0]!
    return { cookie, csrf: ((await res.json()) as any).csrfToken }
  }

  it('signs in with a password, needs the CSRF token for changes, and signs out', async () => {
    const { cookie, csrf } = await loginAs('u-educator')
    const me = (await (await as(null, '/api/session', { headers: { cookie } })).json()) as any
    assert.equal(me.user.username, 'u-educator')
    assert.equal(me.csrfToken, csrf)
    assert.ok((await as(null, '/dicomweb/studies', { headers: { cookie } })).ok)
    const noCsrf = await as(null, '/api/tokens', { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify({ name: 't', role: 'educator', collection: 'coll-a' }) })
    assert.equal(noCsrf.status, 403)
    assert.equal(((await noCsrf.json()) as any).code, 'CSRF_MISMATCH')
    assert.equal((await as(null, '/api/auth/logout', { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } })).status, 204)
    assert.equal((await as(null, '/api/session', { headers: { cookie } })).status, 401)
  })

  it('forces a new password after a one-time password, and locks after five failures', async () => {
    const made = (await (await admin('/api/users', { method: 'POST', body: JSON.stringify({ username: 'newbie' }) })).json()) as any
    const login = (password: string) => as(null, '/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'newbie', password }) })
    const first = await login(made.oneTimePassword)
    assert.equal(first.status, 200)
    const cookie = first.headers.get('set-cookie')!.split(';')[0]!
    const { csrfToken } = (await first.json()) as any
    const me = (await (await as(null, '/api/session', { headers: { cookie } })).json()) as any
    assert.equal(me.mustChangePassword, true)
    assert.deepEqual(me.permissions, [])
    const early = await as(null, '/api/tokens', { headers: { cookie } })
    assert.equal(early.status, 403)
    assert.equal(((await early.json()) as any).code, 'PASSWORD_CHANGE_REQUIRED')
    const weak = await as(null, '/api/session/password', { method: 'POST', headers: { cookie, 'x-csrf-token': csrfToken, 'content-type': 'application/json' }, body: JSON.stringify({ current: made.oneTimePassword, next: 'short' }) })
    assert.equal(weak.status, 400)
    const ok = await as(null, '/api/session/password', { method: 'POST', headers: { cookie, 'x-csrf-token': csrfToken, 'content-type': 'application/json' }, body: JSON.stringify({ current: made.oneTimePassword, next: 'a much longer passphrase' }) })
    assert.equal(ok.status, 204)
    for (let i = 0; i < 4; i++) assert.equal((await login('wrong password!')).status, 401)
    const fifth = await login('wrong password!')
    assert.equal(fifth.status, 423)
    // Locked: even the right password is refused until an administrator unlocks.
    assert.equal((await login('a much longer passphrase')).status, 423)
    assert.equal((await admin(`/api/users/${made.user.id}`, { method: 'PATCH', body: JSON.stringify({ unlock: true }) })).status, 200)
    assert.equal((await login('a much longer passphrase')).status, 200)
    // The same answer for an unknown user as for a wrong password.
    const unknown = await as(null, '/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'nobody-here', password: 'x' }) })
    assert.equal(unknown.status, 401)
    assert.equal(((await unknown.json()) as any).code, 'INVALID_CREDENTIALS')
  })

  it('sends security headers, and 401 with WWW-Authenticate for a bad token', async () => {
    const res = await as('kura_not-a-real-token', '/api/session')
    assert.equal(res.status, 401)
    assert.match(res.headers.get('www-authenticate') ?? '', /Bearer/)
    assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/)
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff')
    assert.equal(res.headers.get('strict-transport-security'), null, 'no HSTS over plain HTTP')
  })

  // Last: it uses up this address's sign-in budget for a minute.
  it('rate-limits sign-in attempts per address, with Retry-After', async () => {
    const statuses: number[] = []
    let retryAfter: string | null = null
    for (let i = 0; i < 25; i++) {
      const res = await as(null, '/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: `guess-${i}`, password: 'x' }) })
      statuses.push(res.status)
      if (res.status === 429) retryAfter = res.headers.get('retry-after')
    }
    // Earlier tests signed in from this address too, so the limit of 20 a minute comes sooner.
    const first = statuses.indexOf(429)
    assert.ok(first > 0 && first <= 20, statuses.join(','))
    assert.deepEqual(statuses.slice(0, first), Array(first).fill(401))
    assert.deepEqual(statuses.slice(first), Array(25 - first).fill(429))
    assert.ok(Number(retryAfter) > 0 && Number(retryAfter) <= 60, `Retry-After ${retryAfter}`)
  })
})
