/** @module openCatalog: URLs, engine settings, migrations on open, clear errors. */
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import { isKuraError } from '@kura/core'
import { describeEachEngine, openTestCatalog } from '../testing/index.ts'
import { openCatalog } from './connect.ts'

it('rejects URLs of unknown engines', async () => {
  await assert.rejects(openCatalog('mysql://x/y'), (e) => isKuraError(e) && e.code === 'CATALOG_URL_INVALID')
})

it('SQLite: creates the parent directory, runs in WAL with foreign keys and case-sensitive LIKE', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kura-connect-'))
  try {
    const url = `sqlite:${join(dir, 'deep', 'er', 'catalog.sqlite')}`
    const catalog = await openCatalog(url)
    assert.equal(catalog.engine, 'sqlite')
    assert.equal(catalog.capabilities.concurrentWriters, false)
    assert.ok((await stat(join(dir, 'deep', 'er', 'catalog.sqlite'))).isFile())
    const mode = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(catalog.db)
    assert.equal(mode.rows[0].journal_mode, 'wal')
    const fk = await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(catalog.db)
    assert.equal(fk.rows[0].foreign_keys, 1)
    const like = await sql<{ m: number }>`select 'abc' like 'ABC' as m`.execute(catalog.db)
    assert.equal(like.rows[0].m, 0)
    await catalog.close()
    await catalog.close() // idempotent
    // Reopening finds the schema current and changes nothing.
    const again = await openCatalog(`sqlite://${join(dir, 'deep', 'er', 'catalog.sqlite')}`)
    const migrations = await sql<{ n: number }>`select count(*) as n from kysely_migration`.execute(again.db)
    const { migrations: all } = await import('./migrations/index.ts')
    assert.equal(migrations.rows[0].n, Object.keys(all).length)
    await again.close()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

it('SQLite: an unusable path is reported as CATALOG_UNREACHABLE', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kura-connect-'))
  try {
    await writeFile(join(dir, 'a-file'), 'not a directory')
    await assert.rejects(openCatalog(`sqlite:${join(dir, 'a-file', 'catalog.sqlite')}`), (e) => isKuraError(e) && e.code === 'CATALOG_UNREACHABLE')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

it('PostgreSQL: an unreachable server is reported without the password', async () => {
  await assert.rejects(openCatalog('postgres://kura:s3cret@127.0.0.1:1/kura'), (e) => {
    assert.ok(isKuraError(e))
    assert.equal(e.code, 'CATALOG_UNREACHABLE')
    assert.match(e.message, /127\.0\.0\.1:1\/kura/)
    assert.doesNotMatch(e.message, /s3cret/)
    return true
  })
})

describeEachEngine('catalog types', (engine) => {
  it('both engines return numbers for integers, counts and bigints', async () => {
    const tc = await openTestCatalog(engine)
    try {
      assert.equal(tc.catalog.engine, engine)
      const r = await sql<{ n: number; big: number }>`select count(*) as n, cast(5000000000 as bigint) as big from study`.execute(tc.catalog.db)
      assert.strictEqual(r.rows[0].n, 0)
      assert.strictEqual(r.rows[0].big, 5_000_000_000)
    } finally {
      await tc.cleanup()
    }
  })
})
