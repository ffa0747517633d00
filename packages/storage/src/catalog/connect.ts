/**
 * @module openCatalog: the only file that knows which database engine is behind the catalog.
 *
 * `sqlite:<path>` (embedded default): better-sqlite3 in WAL mode with synchronous=NORMAL (the
 * WAL is fsynced at checkpoints, not at every commit: a power cut — not a process crash — can
 * lose the transactions since the last checkpoint, but never corrupts the database), busy_timeout
 * 5 s so other processes' writes are waited for, foreign keys
 * on, and case-sensitive LIKE (DICOM matching is case-sensitive except for names, which are
 * matched through upper-cased columns). Prepared statements are cached: better-sqlite3 would
 * otherwise re-prepare every query Kysely sends.
 * `postgres://…`: a pg Pool; int8/numeric are parsed to numbers so both engines return the same
 * JS types (see database.ts).
 *
 * Migrations run on open. PostgreSQL: Kysely's Migrator holds an advisory lock and runs them in
 * a transaction, so processes opening the same database at once apply each migration once.
 * SQLite: Kysely runs them outside a transaction, so they are wrapped in BEGIN IMMEDIATE here,
 * which makes them atomic and makes a second process wait instead of migrating twice.
 *
 * Do not open two catalogs on the same SQLite file in one thread: better-sqlite3 waits for locks
 * synchronously, so one would block the very event loop the other needs to finish.
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import pg from 'pg'
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type DatabaseIntrospector, type MigrationProvider, type Migration } from 'kysely'
import { silentLogger, type Logger } from '@kura/core'
import { CatalogErrors } from '../errors.ts'
import { registerCapabilities, type CatalogCapabilities } from './capabilities.ts'
import type { Database } from './database.ts'
import { migrations } from './migrations/index.ts'

export type CatalogEngine = 'sqlite' | 'postgres'

export interface Catalog {
  db: Kysely<Database>
  engine: CatalogEngine
  capabilities: CatalogCapabilities
  close(): Promise<void>
}

export interface OpenCatalogOptions {
  /** PostgreSQL connections in the pool (default 10). */
  poolSize?: number
  log?: Logger
}

const SQLITE_CAPABILITIES: CatalogCapabilities = Object.freeze({ dataModifyingCte: false, concurrentWriters: false, byteOrderText: 'text' })
const POSTGRES_CAPABILITIES: CatalogCapabilities = Object.freeze({ dataModifyingCte: true, concurrentWriters: true, byteOrderText: 'text collate "C"' })

export async function openCatalog(databaseUrl: string, opts: OpenCatalogOptions = {}): Promise<Catalog> {
  if (databaseUrl.startsWith('sqlite:')) return openSqlite(databaseUrl)
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) return openPostgres(databaseUrl, opts)
  throw CatalogErrors.invalidUrl(databaseUrl)
}

/** `sqlite:/abs/path`, `sqlite:relative/path`, `sqlite:///abs/path` or `sqlite::memory:`. */
function sqlitePath(url: string): string {
  const rest = url.slice('sqlite:'.length)
  return rest.startsWith('//') ? rest.slice(2) : rest
}

async function openSqlite(url: string): Promise<Catalog> {
  const path = sqlitePath(url)
  let raw: SqliteDatabase.Database
  try {
    if (path !== ':memory:' && path !== '') mkdirSync(dirname(path), { recursive: true })
    raw = new SqliteDatabase(path)
    raw.pragma('journal_mode = WAL')
    raw.pragma('synchronous = NORMAL')
    raw.pragma('busy_timeout = 5000')
    raw.pragma('foreign_keys = ON')
    raw.pragma('case_sensitive_like = ON')
    raw.pragma('cache_size = -32000')
    // Reads through the page cache without a system call each (costly on virtualised hosts).
    raw.pragma('mmap_size = 268435456')
    // Checkpoint every ~40 MB of WAL instead of 4 MB: pages rewritten by many commits (counters,
    // index interiors) are copied back once, and checkpoint fsyncs are ten times rarer.
    raw.pragma('wal_autocheckpoint = 10000')
  } catch (e) {
    throw CatalogErrors.unreachable(`SQLite file ${path}`, e)
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingStatements(raw) }) })
  try {
    raw.exec('BEGIN IMMEDIATE')
    try {
      await migrate(db, SQLITE_CAPABILITIES, undefined)
      raw.exec('COMMIT')
    } catch (e) {
      if (raw.inTransaction) raw.exec('ROLLBACK')
      throw e
    }
  } catch (e) {
    await db.destroy()
    throw isBusy(e) ? CatalogErrors.busy(e) : e
  }
  return finish(db, 'sqlite', SQLITE_CAPABILITIES)
}

async function openPostgres(url: string, opts: OpenCatalogOptions): Promise<Catalog> {
  const log = opts.log ?? silentLogger
  const where = describePostgres(url)
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolSize ?? 10,
    connectionTimeoutMillis: 10_000,
    types: { getTypeParser: numericAsNumber as typeof pg.types.getTypeParser },
  })
  // An idle connection dropped by the server must not crash the process; the pool replaces it.
  pool.on('error', (err) => log.warn({ err: err.message, database: where }, 'catalog connection lost'))
  const db = new Kysely<Database>({ dialect: new CatalogPostgresDialect({ pool }) })
  let schema: string | null
  try {
    const r = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db)
    schema = r.rows[0]?.schema ?? null
  } catch (e) {
    await db.destroy()
    throw CatalogErrors.unreachable(`PostgreSQL ${where}`, e)
  }
  try {
    if (!schema) throw new Error('no schema on the search_path exists; create it or fix search_path')
    await migrate(db, POSTGRES_CAPABILITIES, schema)
  } catch (e) {
    await db.destroy()
    throw e
  }
  return finish(db, 'postgres', POSTGRES_CAPABILITIES)
}

function finish(db: Kysely<Database>, engine: CatalogEngine, capabilities: CatalogCapabilities): Catalog {
  registerCapabilities(db, capabilities)
  let closed: Promise<void> | undefined
  return { db, engine, capabilities, close: () => (closed ??= db.destroy()) }
}

async function migrate(db: Kysely<Database>, caps: CatalogCapabilities, schema: string | undefined): Promise<void> {
  const provider: MigrationProvider = {
    async getMigrations() {
      const out: Record<string, Migration> = {}
      for (const [name, m] of Object.entries(migrations)) {
        out[name] = { up: (k) => m.up(k, caps), down: m.down ? (k) => m.down!(k, caps) : undefined }
      }
      return out
    },
  }
  // An explicit schema keeps Kysely from mistaking another schema's migration table for ours.
  const migrator = new Migrator({ db, provider, migrationTableSchema: schema })
  const { error, results } = await migrator.migrateToLatest()
  if (error) {
    if (isBusy(error)) throw CatalogErrors.busy(error)
    throw CatalogErrors.migrationFailed(results?.find((r) => r.status === 'Error')?.migrationName, error)
  }
}

/**
 * Kysely's PostgreSQL introspection reads the columns of every table in every schema, and fails
 * when another schema is dropped meanwhile (other tenants, test runs). Its only user here is the
 * migrator, which just needs the names of the tables in our own schema.
 */
class CatalogPostgresDialect extends PostgresDialect {
  override createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    const getTables = async () => {
      const r = await sql<{ name: string; schema: string }>`
        select c.relname as name, n.nspname as schema from pg_catalog.pg_class c
        join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        where n.nspname = current_schema() and c.relkind in ('r', 'p')`.execute(db)
      return r.rows.map((t) => ({ name: t.name, schema: t.schema, isView: false, columns: [] }))
    }
    return {
      getSchemas: async () => (await sql<{ name: string }>`select nspname as name from pg_catalog.pg_namespace`.execute(db)).rows,
      getTables,
      getMetadata: async () => ({ tables: await getTables() }),
    }
  }
}

/** pg returns int8 (counts, bigint sizes) and numeric as strings by default; all ours fit a double. */
function numericAsNumber(oid: number, format?: 'text' | 'binary'): unknown {
  if (oid === 20 || oid === 1700) return (v: string) => Number(v)
  return (pg.types.getTypeParser as (oid: number, format?: string) => unknown)(oid, format)
}

/** host:port/database for messages; never the password. */
function describePostgres(url: string): string {
  try {
    const u = new URL(url)
    return `${u.hostname || 'localhost'}:${u.port || '5432'}${u.pathname}`
  } catch {
    return '(unparsable URL)'
  }
}

function isBusy(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY')
}

/** better-sqlite3 with an LRU of prepared statements, in the shape Kysely's SqliteDialect expects. */
function cachingStatements(raw: SqliteDatabase.Database, max = 256) {
  const cache = new Map<string, SqliteDatabase.Statement>()
  return {
    close: () => raw.close(),
    prepare(text: string) {
      let stmt = cache.get(text)
      if (stmt) {
        cache.delete(text)
      } else {
        stmt = raw.prepare(text)
        if (cache.size >= max) cache.delete(cache.keys().next().value!)
      }
      cache.set(text, stmt)
      return stmt
    },
  }
}
