import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BASIC_POLICY } from '@kura/deid'
import { Outbox, RecordOutbox, type RecordInput, type TakenFile } from '../outbox/index.ts'
import { Pipeline } from './pipeline.ts'
import { recordEngine } from './record-engine.ts'

/** An input the stage holds (an export row that maps to no record), as a source would hand it over with its file. */
const handed = (i: number): RecordInput & { file: TakenFile } => ({
  source: 's', ref: `f${i}`, format: 'record', raw: JSON.stringify({ errors: [{ path: 'x', message: `m${i}` }] }),
  file: { path: `/t/f${i}`, size: 1, mtimeMs: i, sha256: String(i) },
})

test('record hand-offs: settled with their files taken; one whose settle fails is kept (nothing taken) and settled once the outbox can be written', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-pipe-rec-'))
  const ob = Outbox.open(dir)
  const settings = { policy: BASIC_POLICY, secret: new Uint8Array(32).fill(1), collection: 'c' }
  const pipeline = new Pipeline(ob, settings, { pollMs: 30, records: recordEngine(settings) })
  const rec = new RecordOutbox(ob)
  // The pipeline's poll timer does not hold the process open (the gateway's servers do): this test's wait must.
  const keepAlive = setInterval(() => {}, 1000)
  try {
    pipeline.start()
    await pipeline.receivedRecords([handed(1), handed(2)])
    assert.equal(pipeline.counters.recordsHeld, 2)
    assert.equal(rec.wasTaken('/t/f1', 1, 1) && rec.wasTaken('/t/f2', 1, 2), true, 'taken once settled')

    ob.db.exec('CREATE TRIGGER full BEFORE INSERT ON records BEGIN SELECT RAISE(ABORT, \'disk full\'); END')
    let settled = false
    const third = pipeline.receivedRecords([handed(3)]).then(() => { settled = true })
    const until = async (cond: () => boolean) => { for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 20)) }
    await until(() => pipeline.counters.paused !== null)
    assert.match(pipeline.counters.paused ?? '', /disk full/)
    assert.equal(settled, false)
    assert.equal(rec.wasTaken('/t/f3', 1, 3), false, 'nothing of the failed batch is taken')

    ob.db.exec('DROP TRIGGER full')
    await Promise.race([third, new Promise((_, reject) => setTimeout(() => reject(new Error('the failed hand-off was never settled')), 10_000).unref())])
    assert.equal(rec.wasTaken('/t/f3', 1, 3), true)
    assert.deepEqual(rec.counts(), { inputs: 0, states: { quarantined: 3 } }, 'each held once, nothing spooled')
  } finally {
    clearInterval(keepAlive)
    await pipeline.stop()
    ob.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
