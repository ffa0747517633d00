/** The de-identification worker changes where small objects are done, never what becomes of them. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BASIC_POLICY, generateSecret } from '@kura/deid'
import { Outbox } from '../outbox/index.ts'
import { FolderSource } from '../sources/folder/index.ts'
import { DeidPool } from './deid-pool.ts'
import { Pipeline } from './pipeline.ts'
import { leakyInstance, smallStudies } from './testkit.ts'

async function until(what: string, cond: () => boolean, ms = 60_000): Promise<void> {
  for (const end = Date.now() + ms; !cond(); await new Promise((r) => setTimeout(r, 50))) if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
}

/** Each file's outcome through a pipeline: state, clean output bytes or quarantine reason, by file name. */
async function outcomes(watch: string, settings: { policy: typeof BASIC_POLICY; secret: Uint8Array; collection: string }, pool: DeidPool | null, total: number): Promise<Map<string, string>> {
  const spool = mkdtempSync(join(tmpdir(), 'kura-deid-pool-spool-'))
  const outbox = Outbox.open(spool)
  outbox.recover()
  const pipeline = new Pipeline(outbox, settings, { pollMs: 100, deid: pool ?? undefined })
  const folder = new FolderSource({ path: watch, settleSeconds: 0, deleteAfterTake: false }, outbox, { pollMs: 100, onTaken: () => pipeline.kick() })
  try {
    pipeline.start()
    folder.start()
    const done = () => (outbox.db.prepare("SELECT COUNT(*) AS n FROM objects WHERE state IN ('queued', 'quarantined')").get() as { n: number }).n
    await until('every file processed', () => done() === total)
    await folder.stop()
    await pipeline.stop()
    const rows = outbox.db.prepare('SELECT source_ref, state, output_sha256, last_error FROM objects').all() as Array<{ source_ref: string; state: string; output_sha256: string | null; last_error: string | null }>
    const out = new Map<string, string>()
    for (const r of rows) {
      const bytes = r.output_sha256 ? Buffer.from(outbox.cleanData(r.output_sha256) ?? readFileSync(outbox.cleanPath(r.output_sha256))).toString('base64') : ''
      out.set(r.source_ref.slice(r.source_ref.lastIndexOf('/') + 1), `${r.state} ${r.last_error ?? ''} ${bytes}`)
    }
    return out
  } finally {
    outbox.close()
    rmSync(spool, { recursive: true, force: true })
  }
}

test('a pipeline with a de-identification worker: the same clean bytes and the same quarantines as without', async () => {
  const watch = mkdtempSync(join(tmpdir(), 'kura-deid-pool-'))
  mkdirSync(watch, { recursive: true })
  const instances = smallStudies(2, 2, 3)
  instances.forEach((inst, i) => writeFileSync(join(watch, `${i}.dcm`), inst.bytes))
  writeFileSync(join(watch, 'leaky.dcm'), leakyInstance().bytes)
  writeFileSync(join(watch, 'truncated.dcm'), instances[0]!.bytes.subarray(0, 300))
  const total = instances.length + 2
  const settings = { policy: BASIC_POLICY, secret: generateSecret(), collection: 'test' }
  const pool = new DeidPool(settings)
  try {
    const here = await outcomes(watch, settings, null, total)
    const there = await outcomes(watch, settings, pool, total)
    assert.equal(pool.done, total, `the worker did every object (${pool.failures.last})`)
    assert.equal(here.size, total)
    assert.deepEqual(there, here)
    assert.equal([...here.values()].filter((v) => v.startsWith('quarantined')).length, 2, 'the leaky and the truncated object')
  } finally {
    await pool.close()
    rmSync(watch, { recursive: true, force: true })
  }
})

test('a pool refuses a re-identification table, which lives on the main thread', () => {
  assert.throws(() => new DeidPool({ policy: BASIC_POLICY, secret: generateSecret(), collection: 'test', reid: {} as never }), /re-identification/)
})
