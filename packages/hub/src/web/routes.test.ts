/** Serving the built browser application: caching, the SPA fallback, the data prefixes' JSON 404, a missing build. */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import { permissionsPlugin } from '../auth/permissions.ts'
import { webRoutes } from './routes.ts'

async function appServing(distDir: string): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(permissionsPlugin)
  app.setNotFoundHandler({}, (req, reply) => reply.status(404).send({ code: 'NOT_FOUND', message: `No route for ${req.method} ${req.url}` }))
  app.get('/api/session', { config: { permission: 'public' } }, async () => ({ route: 'api' }))
  await app.register(webRoutes, { distDir })
  return app
}

describe('web routes', () => {
  let dir: string
  let app: FastifyInstance
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kura-web-dist-'))
    await mkdir(join(dir, 'assets'))
    await writeFile(join(dir, 'index.html'), '<!doctype html><div id="root"></div><script src="/assets/app-abc123.js"></script>')
    await writeFile(join(dir, 'assets', 'app-abc123.js'), 'console.log(1)')
    await writeFile(join(dir, 'secret.txt'), 'outside assets')
    app = await appServing(dir)
  })
  after(async () => {
    await app.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('answers the app routes with index.html, never cached, with a content security policy', async () => {
    for (const url of ['/', '/collections', '/studies?collection=a', '/studies/1.2.3', '/admin/users', '/sign-in?next=%2Faudit']) {
      const res = await app.inject({ url })
      assert.equal(res.statusCode, 200, url)
      assert.equal(res.headers['cache-control'], 'no-cache', url)
      assert.match(String(res.headers['content-type']), /^text\/html/, url)
      assert.match(String(res.headers['content-security-policy']), /script-src 'self'/, url)
      assert.match(res.body, /id="root"/, url)
    }
  })

  it('serves hashed assets cached for a year', async () => {
    const res = await app.inject({ url: '/assets/app-abc123.js' })
    assert.equal(res.statusCode, 200)
    assert.equal(res.body, 'console.log(1)')
    assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable')
  })

  it('leaves data prefixes, unknown assets and other methods to the JSON 404', async () => {
    assert.deepEqual((await app.inject({ url: '/api/session' })).json(), { route: 'api' })
    for (const url of ['/api/nope', '/api', '/dicomweb/studies/x/nope', '/iiif/x', '/slides/x', '/healthz', '/assets/missing.js', '/assets/..%2Fsecret.txt']) {
      const res = await app.inject({ url })
      assert.ok(res.statusCode === 404 || res.statusCode === 403, `${url}: ${res.statusCode}`)
      assert.match(String(res.headers['content-type']), /^application\/json/, url)
    }
    // Only assets/ is served as files: nothing else in dist/ leaves, however the path is spelled.
    for (const url of ['/secret.txt', '/assets/../secret.txt', '/assets/..%2Fsecret.txt', '/assets/%2e%2e/secret.txt', '/assets/..%5csecret.txt']) {
      assert.doesNotMatch((await app.inject({ url })).body, /outside assets/, url)
    }
    assert.equal((await app.inject({ method: 'POST', url: '/studies' })).statusCode, 404)
  })

  it('serves a rebuilt index.html without a restart', async () => {
    await writeFile(join(dir, 'index.html'), '<!doctype html><div id="root"></div><!-- v2 -->')
    assert.match((await app.inject({ url: '/studies' })).body, /v2/)
  })

  it('says how to build the app when the build is missing', async () => {
    const missing = await appServing(join(dir, 'no-such-dist'))
    try {
      for (const url of ['/', '/studies']) {
        const res = await missing.inject({ url })
        assert.equal(res.statusCode, 503, url)
        assert.match(res.body, /npm run build -w @kura\/web/, url)
      }
      assert.equal((await missing.inject({ url: '/api/nope' })).statusCode, 404)
    } finally {
      await missing.close()
    }
  })
})
