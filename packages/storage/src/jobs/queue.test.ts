import assert from 'node:assert/strict'
import { after, before, it } from 'node:test'
import { KuraError } from '@kura/core'
import { describeEachEngine, openTestCatalog, type TestCatalog } from '../testing/index.ts'
import { JobQueue } from './queue.ts'
import { JobRunner } from './runner.ts'

describeEachEngine('job queue', (engine) => {
  let tc: TestCatalog
  let q: JobQueue
  before(async () => {
    tc = await openTestCatalog(engine)
    q = new JobQueue(tc.catalog.db, engine)
  })
  after(() => tc?.cleanup())

  it('runs each job once, in order, and a singleton key makes enqueueing idempotent', async () => {
    const a = await q.enqueue('t.order', { n: 1 }, { singletonKey: 'order-1' })
    assert.ok(a)
    assert.equal(await q.enqueue('t.order', { n: 1 }, { singletonKey: 'order-1' }), null, 'a second job with a waiting key is a no-op')
    await q.enqueue('t.order', { n: 2 })
    const first = await q.claim(['t.order'], 'w1', 60_000)
    const second = await q.claim(['t.order'], 'w2', 60_000)
    assert.deepEqual([first?.payload, second?.payload], [{ n: 1 }, { n: 2 }])
    assert.equal(await q.claim(['t.order'], 'w3', 60_000), null, 'nothing left to claim')
    await q.complete(first!.id, 'w1')
    await q.complete(second!.id, 'w2')
    // Done, the key is free again.
    assert.ok(await q.enqueue('t.order', { n: 1 }, { singletonKey: 'order-1' }))
    const again = await q.claim(['t.order'], 'w1', 60_000)
    await q.complete(again!.id, 'w1')
    assert.equal((await q.get(first!.id))?.state, 'done')
  })

  it('takes back a job whose worker let its lease run out', async () => {
    const id = await q.enqueue('t.lease', {})
    const c1 = await q.claim(['t.lease'], 'dead', 1)
    assert.equal(c1?.id, id)
    await new Promise((r) => setTimeout(r, 20))
    const c2 = await q.claim(['t.lease'], 'alive', 60_000)
    assert.equal(c2?.id, id)
    assert.equal(c2?.attempt, 2)
    // The dead worker cannot complete what it no longer holds.
    await q.complete(id!, 'dead')
    assert.equal((await q.get(id!))?.state, 'active')
    await q.complete(id!, 'alive')
    assert.equal((await q.get(id!))?.state, 'done')
  })

  it('retries a failure after a back-off and keeps a job that failed every attempt, with its error', async () => {
    const id = await q.enqueue('t.fail', {}, { maxAttempts: 2 })
    const c1 = await q.claim(['t.fail'], 'w', 60_000)
    assert.equal(await q.fail(c1!, 'w', 'disk full'), 'retry')
    assert.equal(await q.claim(['t.fail'], 'w', 60_000), null, 'not before its back-off')
    await tc.catalog.db.updateTable('job').set({ run_after: new Date(0).toISOString() }).where('id', '=', id!).execute()
    const c2 = await q.claim(['t.fail'], 'w', 60_000)
    assert.equal(c2?.attempt, 2)
    assert.equal(await q.fail(c2!, 'w', 'disk still full'), 'failed')
    const info = await q.get(id!)
    assert.equal(info?.state, 'failed')
    assert.equal(info?.lastError, 'disk still full')
  })

  it('two runners share the work without running any job twice', async () => {
    const seen: number[] = []
    const handler = async (p: { n: number }) => {
      seen.push(p.n)
      await new Promise((r) => setTimeout(r, 2))
    }
    for (let n = 0; n < 40; n++) await q.enqueue('t.share', { n })
    const r1 = new JobRunner(q, { concurrency: 3, pollMs: 20 }).handle('t.share', handler)
    const r2 = new JobRunner(q, { concurrency: 3, pollMs: 20 }).handle('t.share', handler)
    r1.start()
    r2.start()
    await r1.idle()
    await r2.idle()
    await Promise.all([r1.stop(), r2.stop()])
    assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i))
  })

  it('a handler error that may not be retried fails the job at once', async () => {
    const id = await q.enqueue('t.final', {})
    const r = new JobRunner(q, { pollMs: 20 }).handle('t.final', async () => {
      throw new KuraError('UNSUPPORTED', 'cannot build this', { status: 422, details: { retryable: false } })
    })
    r.start()
    await r.idle()
    await r.stop()
    const info = await q.get(id!)
    assert.equal(info?.state, 'failed')
    assert.equal(info?.attempts, 1)
    assert.match(info?.lastError ?? '', /cannot build this/)
  })
})
