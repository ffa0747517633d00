/**
 * HTTPS with the operator's certificate files: the hub serves TLS, sends HSTS, and marks the
 * session cookie Secure.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTestHub, type TestHub } from './support/hub.ts'

function get(url: string, ca: Buffer, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers, ca }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end(init.body)
  })
}

describe('TLS', () => {
  let hub: TestHub
  let dir: string
  let ca: Buffer

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kura-tls-'))
    // A self-signed certificate for 127.0.0.1, made by OpenSSL (not by us).
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
    ca = readFileSync(join(dir, 'cert.pem'))
    hub = await startTestHub({ config: { tls: { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') } } })
  })
  after(async () => {
    await hub?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('serves HTTPS with HSTS, and Secure session cookies', async () => {
    const url = hub.url.replace('http:', 'https:')
    const health = await get(`${url}/healthz`, ca)
    assert.equal(health.status, 200)
    assert.match(String(health.headers['strict-transport-security']), /max-age=\d+/)
    const { hashPassword } = await import('../packages/hub/src/auth/passwords.ts')
    await hub.archive.catalog.db.updateTable('user').set({ password_hash: await hashPassword('a long enough secret'), must_change_password: 0 }).where('username', '=', 'admin').execute()
    const login = await get(`${url}/api/auth/login`, ca, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'a long enough secret' }) })
    assert.equal(login.status, 200, login.body)
    const cookie = [login.headers['set-cookie']].flat().find((c) => c?.startsWith('kura_session='))!
    assert.match(cookie, /; Secure/)
    assert.match(cookie, /; HttpOnly/)
  })
})
