/**
 * @module Test catalogs on both engines, for tests in any package.
 *
 * SQLite: a fresh file in a temp directory. PostgreSQL: a fresh schema (selected through the
 * connection's search_path) in the database at KURA_TEST_DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/test, dropped again by cleanup() — so test files running
 * in parallel, or two checkouts sharing one server, never see each other's rows.
 *
 * PostgreSQL is probed once when this module loads. When it cannot be reached, testEngines()
 * leaves it out and prints a loud warning — unless CI is set: then it stays in and the tests
 * fail, because a CI run that silently skipped half the engines would prove nothing.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import pg from 'pg'
import { openCatalog, type Catalog, type CatalogEngine } from '../catalog/connect.ts'

export interface TestCatalog {
  catalog: Catalog
  /** Opens the same database again, e.g. from a child process ("another hub"). */
  databaseUrl: string
  cleanup(): Promise<void>
}

export const TEST_POSTGRES_URL = process.env.KURA_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test'

async function probePostgres(): Promise<string | null> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.query('select 1')
    return null
  } catch (e) {
    return (e as Error).message || String(e)
  } finally {
    await client.end().catch(() => {})
  }
}

const postgresProblem = await probePostgres()
let warned = false

/** Why PostgreSQL tests cannot run here, or null when they can. */
export function postgresUnavailable(): string | null {
  return postgresProblem && `PostgreSQL not reachable at ${redact(TEST_POSTGRES_URL)} (${postgresProblem})`
}

/** The engines catalog tests should run on here (see the module comment for the skip rule). */
export function testEngines(): CatalogEngine[] {
  const problem = postgresUnavailable()
  if (!problem || process.env.CI) return ['sqlite', 'postgres']
  if (!warned) {
    warned = true
    process.stderr.write(`\n${'!'.repeat(100)}\n!!! ${problem}: catalog tests ran on SQLite only.\n!!! Start PostgreSQL or set KURA_TEST_DATABASE_URL.\n${'!'.repeat(100)}\n\n`)
  }
  return ['sqlite']
}

/**
 * Declares `body` once per engine under describe(`${title} (${engine})`); where PostgreSQL is
 * unavailable (and CI is not set) its block holds one skipped test that says so.
 */
export function describeEachEngine(title: string, body: (engine: CatalogEngine) => void): void {
  const engines = testEngines()
  for (const engine of ['sqlite', 'postgres'] as const) {
    describe(`${title} (${engine})`, () => {
      if (engines.includes(engine)) body(engine)
      else it(`runs on ${engine}`, (t) => t.skip(`${postgresUnavailable()}: catalog tests ran on SQLite only`))
    })
  }
}

export interface TestDatabase {
  /** A database nothing has touched yet: opening it runs the migrations. */
  databaseUrl: string
  cleanup(): Promise<void>
}

/** An empty database (SQLite file path / PostgreSQL schema) for tests that open it themselves. */
export async function createTestDatabase(engine: CatalogEngine): Promise<TestDatabase> {
  if (engine === 'sqlite') {
    const dir = await mkdtemp(join(tmpdir(), 'kura-catalog-'))
    return { databaseUrl: `sqlite:${join(dir, 'catalog.sqlite')}`, cleanup: () => rm(dir, { recursive: true, force: true }) }
  }
  const problem = postgresUnavailable()
  if (problem) throw new Error(`${problem}${process.env.CI ? ' — CI is set, so this fails instead of skipping' : ''}`)
  const schema = `kura_test_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL })
  await admin.connect()
  try {
    await admin.query(`create schema ${schema}`)
  } catch (e) {
    await admin.end()
    throw e
  }
  const url = new URL(TEST_POSTGRES_URL)
  url.searchParams.set('options', `-c search_path=${schema}`)
  return {
    databaseUrl: url.toString(),
    async cleanup() {
      try {
        await admin.query(`drop schema if exists ${schema} cascade`)
      } finally {
        await admin.end()
      }
    },
  }
}

/** A migrated, empty catalog; cleanup() closes it and removes the database. */
export async function openTestCatalog(engine: CatalogEngine): Promise<TestCatalog> {
  const tdb = await createTestDatabase(engine)
  let catalog: Catalog
  try {
    catalog = await openCatalog(tdb.databaseUrl)
  } catch (e) {
    await tdb.cleanup()
    throw e
  }
  return {
    catalog,
    databaseUrl: tdb.databaseUrl,
    async cleanup() {
      try {
        await catalog.close()
      } finally {
        await tdb.cleanup()
      }
    },
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return url
  }
}
