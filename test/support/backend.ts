/**
 * @module Test backends: the same hub tests run on the embedded defaults (SQLite + filesystem)
 * or, with KURA_TEST_BACKEND=postgres, on PostgreSQL + a real S3 server started here.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { HubConfig } from '@kura/core'
import { openTestCatalog, startTestS3 } from '@kura/storage/testing'

export type Backend = 'sqlite' | 'postgres'

export function testBackend(): Backend {
  const b = process.env.KURA_TEST_BACKEND ?? 'sqlite'
  if (b !== 'sqlite' && b !== 'postgres') throw new Error(`KURA_TEST_BACKEND=${b}: use sqlite or postgres`)
  return b
}

export interface TestBackendConfig {
  config: HubConfig
  backend: Backend
  /** Drops the PostgreSQL schema, stops the S3 server and removes the data directory. */
  cleanup(): Promise<void>
}

/** A fresh, empty hub configuration on the backend this run tests. */
export async function testHubConfig(): Promise<TestBackendConfig> {
  const dataDir = await mkdtemp(join(tmpdir(), 'kura-test-'))
  const backend = testBackend()
  if (backend === 'sqlite') {
    return {
      backend,
      config: { host: '127.0.0.1', port: 0, dataDir, databaseUrl: `sqlite:${join(dataDir, 'catalog.sqlite')}`, s3: null, oidc: null, tls: null, jobWorkers: 1 },
      cleanup: () => rm(dataDir, { recursive: true, force: true }),
    }
  }
  const pg = await openTestCatalog('postgres')
  await pg.catalog.close()
  const s3 = await startTestS3()
  return {
    backend,
    config: { host: '127.0.0.1', port: 0, dataDir, databaseUrl: pg.databaseUrl, s3: s3.config, oidc: null, tls: null, jobWorkers: 1 },
    cleanup: async () => {
      await s3.close()
      await pg.cleanup()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}
