/** @module A running hub on a loopback port for end-to-end tests, on the backend under test. */
import type { FastifyInstance } from 'fastify'
import { buildApp, openArchive, type Archive } from '@kura/hub'
import { testHubConfig, type TestBackendConfig } from './backend.ts'

export interface TestHub {
  url: string
  dicomweb: string
  app: FastifyInstance
  archive: Archive
  env: TestBackendConfig
  close(): Promise<void>
}

export async function startTestHub(): Promise<TestHub> {
  const env = await testHubConfig()
  const archive = await openArchive(env.config)
  const app = await buildApp({ archive, config: env.config })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const addr = app.server.address()
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`
  return {
    url,
    dicomweb: `${url}/dicomweb`,
    app,
    archive,
    env,
    close: async () => {
      await app.close()
      await archive.close()
      await env.cleanup()
    },
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
