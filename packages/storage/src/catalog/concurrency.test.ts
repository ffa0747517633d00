/**
 * @module Concurrency on both engines: separate processes ("two hubs") storing into the same
 * new study at once, and opening (migrating) the same fresh database at once.
 */
import { it, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { newDicomUid } from '@kura/core'
import { sql } from 'kysely'
import { createTestDatabase, describeEachEngine, openTestCatalog, type TestCatalog } from '../testing/index.ts'
import { getSeries, getStudy, listInstances } from './archive.repository.ts'
import { openCatalog } from './connect.ts'
import { migrations as allMigrations } from './migrations/index.ts'

const here = dirname(fileURLToPath(import.meta.url))
const workerScript = join(here, '..', 'testing', 'store-worker.ts')

interface Worker {
  child: ChildProcessWithoutNullStreams
  lines: AsyncIterableIterator<string>
}

function startWorker(args: string[]): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', workerScript, ...args], { cwd: join(here, '..', '..'), stdio: 'pipe' })
  child.stderr.on('data', (d) => process.stderr.write(d))
  return { child, lines: createInterface({ input: child.stdout })[Symbol.asyncIterator]() }
}

async function nextLine(w: Worker): Promise<string> {
  const r = await w.lines.next()
  if (r.done) throw new Error('worker exited early')
  return r.value
}

describeEachEngine('concurrent writers', (engine) => {
  let tc: TestCatalog | undefined
  afterEach(async () => {
    await tc?.cleanup()
    tc = undefined
  })

  it('two processes storing into the same new study make one study with exact counters', { timeout: 120_000 }, async () => {
    tc = await openTestCatalog(engine)
    const study = newDicomUid()
    const own = 30
    const shared = 12
    const workers = ['w1', 'w2'].map((name) => startWorker([tc!.databaseUrl, study, name, String(own), String(shared)]))
    for (const w of workers) assert.equal(await nextLine(w), 'ready')
    for (const w of workers) w.child.stdin.write('go\n')
    const tallies = await Promise.all(workers.map(async (w) => JSON.parse(await nextLine(w)) as Record<string, number>))

    const sum = (k: string) => tallies.reduce((n, t) => n + (t[k] ?? 0), 0)
    assert.deepEqual(
      tallies.flatMap((t) => Object.keys(t)).filter((k) => k.startsWith('error')),
      [],
    )
    assert.equal(sum('conflict'), 0)
    assert.equal(sum('stored'), 2 * own + shared, JSON.stringify(tallies))
    assert.equal(sum('duplicate'), shared, 'each shared instance is stored once and is a duplicate once')

    const db = tc.catalog.db
    const studies = await db.selectFrom('study').select(['id']).where('study_instance_uid', '=', study).execute()
    assert.equal(studies.length, 1)
    assert.equal((await db.selectFrom('subject').selectAll().execute()).length, 1)
    assert.equal((await db.selectFrom('collection').selectAll().execute()).length, 1)
    const s = await getStudy(db, study)
    assert.equal(s?.numberOfInstances, 2 * own + shared)
    assert.equal(s?.numberOfSeries, 3)
    assert.equal(s?.modalitiesInStudy, 'CT\\MR\\SR')
    const listed = await listInstances(db, { studyInstanceUid: study })
    assert.equal(listed.length, 2 * own + shared)
    for (let n = 0; n < 3; n++) {
      const series = await getSeries(db, `${study}.${n}`)
      assert.equal(series?.numberOfInstances, listed.filter((r) => r.seriesInstanceUid === `${study}.${n}`).length)
    }
  })

  it('processes opening the same fresh database at once migrate it once', { timeout: 120_000 }, async () => {
    const tdb = await createTestDatabase(engine)
    try {
      const study = newDicomUid()
      // Both start on an empty database, so both run the migrator at about the same time.
      const workers = ['w1', 'w2'].map((name) => startWorker([tdb.databaseUrl, study, name, '3', '0']))
      for (const w of workers) assert.equal(await nextLine(w), 'ready')
      for (const w of workers) w.child.stdin.write('go\n')
      const tallies = await Promise.all(workers.map(async (w) => JSON.parse(await nextLine(w)) as Record<string, number>))
      assert.deepEqual(tallies, [{ stored: 3 }, { stored: 3 }])
      const catalog = await openCatalog(tdb.databaseUrl)
      try {
        const migrations = await sql<{ name: string }>`select name from kysely_migration`.execute(catalog.db)
        assert.deepEqual(
          migrations.rows.map((r) => r.name),
          Object.keys(allMigrations),
        )
        assert.equal((await getStudy(catalog.db, study))?.numberOfInstances, 6)
      } finally {
        await catalog.close()
      }
    } finally {
      await tdb.cleanup()
    }
  })
})
