/** @module A running hub on a loopback port for end-to-end tests, on the backend under test. */
import type { FastifyInstance } from 'fastify'
import type { HubConfig } from '@kura/core'
import { openCatalog } from '@kura/storage'
import { buildApp, issueAdminToken, openArchive, type Archive } from '@kura/hub'
import { testHubConfig, type TestBackendConfig } from './backend.ts'

export interface TestHub {
  url: string
  dicomweb: string
  app: FastifyInstance
  archive: Archive
  env: TestBackendConfig
  /** A bearer token of the first administrator. */
  adminToken: string
  /** `fetch` that sends the admin token (an explicit Authorization header wins). */
  fetch: typeof globalThis.fetch
  close(): Promise<void>
}

export interface TestHubOptions {
  /** Listen on this port (e.g. one an identity provider was told about); default any free one. */
  port?: number
  /** Changes to the configuration before the hub starts (OIDC, public URL, ...). */
  config?: Partial<HubConfig>
}

export async function startTestHub(opts: TestHubOptions = {}): Promise<TestHub> {
  const env = await testHubConfig()
  Object.assign(env.config, opts.config)
  const archive = await openArchive(env.config)
  const app = await buildApp({ archive, config: env.config })
  await app.listen({ host: '127.0.0.1', port: opts.port ?? 0 })
  const addr = app.server.address()
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`
  const { token: adminToken } = await issueAdminToken(archive.catalog.db, 'tests')
  return {
    url,
    dicomweb: `${url}/dicomweb`,
    app,
    archive,
    env,
    adminToken,
    fetch: bearerFetch(adminToken),
    close: async () => {
      await app.close()
      await archive.close()
      await env.cleanup()
    },
  }
}

/** `fetch` that sends `Authorization: Bearer <token>` unless the call sets its own. */
export function bearerFetch(token: string): typeof globalThis.fetch {
  return (input, init = {}) => {
    const headers = new Headers(init.headers)
    if (!headers.has('authorization')) headers.set('authorization', `Bearer ${token}`)
    return globalThis.fetch(input, { ...init, headers })
  }
}

/** An admin token issued straight in the catalog of a hub that runs in another process. */
export async function adminTokenFor(env: TestBackendConfig): Promise<string> {
  const catalog = await openCatalog(env.config.databaseUrl)
  try {
    return (await issueAdminToken(catalog.db, 'tests')).token
  } finally {
    await catalog.close()
  }
}

/** A multipart/related STOW-RS body from whole files (tests only; the hub itself streams). */
export function stowBody(files: Uint8Array[], boundary = 'kura-test-boundary-7d3f'): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = []
  for (const f of files) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), Buffer.from(f), Buffer.from('\r\n'))
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`))
  return { body: Buffer.concat(chunks), contentType: `multipart/related; type="application/dicom"; boundary=${boundary}` }
}

export const PYDICOM_FILES = '/usr/lib/python3/dist-packages/pydicom/data/test_files'
export const PYDICOM_CHARSETS = '/usr/lib/python3/dist-packages/pydicom/data/charset_files'
