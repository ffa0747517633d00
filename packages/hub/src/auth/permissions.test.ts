/** Every route declares its permission; a route without one stops the hub from starting. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import Fastify from 'fastify'
import { permissionsPlugin, routeTable } from './permissions.ts'

test('a route without a declared permission is refused at startup', async () => {
  const app = Fastify()
  await app.register(permissionsPlugin)
  await assert.rejects(async () => {
    await app.register(async (child) => {
      child.get('/undeclared', async () => 'data')
    })
    await app.ready()
  }, /declares no permission/)
})

test('declared routes land in the route table, public ones marked public', async () => {
  const app = Fastify()
  await app.register(permissionsPlugin)
  app.get('/a-public-thing', { config: { permission: 'public' } }, async () => 'ok')
  app.delete('/a-guarded-thing', { config: { permission: 'study:delete' } }, async () => 'ok')
  await app.ready()
  assert.deepEqual(
    routeTable.filter((r) => r.url.startsWith('/a-')),
    [
      { method: 'GET', url: '/a-public-thing', permission: 'public' },
      { method: 'DELETE', url: '/a-guarded-thing', permission: 'study:delete' },
    ],
  )
  await app.close()
})

test('the hub declares every route; only /healthz is public', async () => {
  const { mkdtemp, rm } = await import('node:fs/promises')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const { openArchive } = await import('../archive/archive.ts')
  const { buildApp } = await import('../app.ts')
  const dataDir = await mkdtemp(join(tmpdir(), 'kura-perm-'))
  const config = { host: '127.0.0.1', port: 0, dataDir, databaseUrl: `sqlite:${join(dataDir, 'c.sqlite')}`, s3: null, oidc: null, tls: null, jobWorkers: 1 }
  const archive = await openArchive(config)
  try {
    const app = await buildApp({ archive, config: { dataDir } })
    await app.ready()
    const hub = routeTable.filter((r) => r.url === '/healthz' || r.url.startsWith('/dicomweb'))
    assert.ok(hub.length >= 28, `${hub.length} routes`)
    assert.deepEqual(hub.filter((r) => r.permission === 'public').map((r) => r.url), ['/healthz'])
    for (const r of hub.filter((r) => r.url.startsWith('/dicomweb'))) {
      const expected = r.method === 'POST' ? 'study:write' : r.method === 'DELETE' ? 'study:delete' : 'study:read'
      assert.equal(r.permission, expected, `${r.method} ${r.url}`)
    }
    await app.close()
  } finally {
    await archive.close()
    await rm(dataDir, { recursive: true, force: true })
  }
})
