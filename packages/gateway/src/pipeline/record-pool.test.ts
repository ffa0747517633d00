import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BASIC_POLICY, generateSecret } from '@kura/deid'
import { synthSsmix2Files } from '@kura/records/synth'
import type { RecordOutput, SpooledInput } from '../outbox/index.ts'
import { recordEngine } from './record-engine.ts'
import { pooledRecordEngine } from './record-pool.ts'
import { stageInput } from './record-stage.ts'

/** Outputs as JSON with each clean body as the hex of its UTF-8 bytes: a worker sends bytes, in-thread staging text. */
const bytesOf = (outputs: ReadonlyArray<readonly RecordOutput[] | undefined>): string =>
  JSON.stringify(outputs.map((os) => os?.map((o) => (o.kind === 'clean' ? { ...o, body: Buffer.from(o.body).toString('hex') } : o))))

test('records staged on worker threads are byte for byte the ones staged in-thread, held ones included', async () => {
  const settings = { policy: BASIC_POLICY, secret: generateSecret(), collection: 'pool-test' }
  // Every data type the generator writes, malformed files too: clean, held and skipped inputs alike.
  const inputs: SpooledInput[] = [...synthSsmix2Files({ patients: 12, seed: 5, years: 2, collect: false, malformed: true })]
    .map((f, i) => ({ id: String(i), source: 'ssmix2:/t', ref: f.path, format: 'ssmix2', raw: f.bytes, receivedAt: i }))
  inputs.push({ id: 'bad', source: 'ssmix2:/t', ref: '001/234/0012345/20240101/OMG-12/x', format: 'ssmix2', raw: new Uint8Array([0x4d, 0x53, 0x48, 0x1b, 0x24]), receivedAt: 0 })
  const local = recordEngine(settings)
  const expected = inputs.map((i) => stageInput(i, local))
  assert.ok(expected.some((o) => o.some((r) => r.kind === 'clean')) && expected.some((o) => o.some((r) => r.kind === 'held')), 'the set holds clean and held records')

  const pool = pooledRecordEngine(settings, 2)
  try {
    await pool.prepare(inputs)
    assert.equal(pool.failures.count, 0, pool.failures.last ?? '')
    const got = inputs.map((i) => {
      const ready = pool.takePrepared(i)
      assert.ok(ready, `input ${i.ref} was prepared`)
      return ready
    })
    assert.equal(bytesOf(got), bytesOf(expected))
    assert.ok(got.some((os) => os!.some((o) => o.kind === 'clean' && typeof o.body !== 'string')), 'bodies come back as bytes')
    // Handed out once: staging the same input again runs in-thread, with the same result.
    assert.equal(bytesOf([stageInput(inputs[0]!, pool)]), bytesOf([expected[0]]))
  } finally {
    await pool.close()
  }
})

test('an input the pool did not prepare (or whose worker is gone) is staged in-thread', async () => {
  const settings = { policy: BASIC_POLICY, secret: generateSecret(), collection: 'pool-test' }
  const f = [...synthSsmix2Files({ patients: 1, seed: 9, years: 1, collect: false, malformed: false })][0]!
  const input: SpooledInput = { id: '1', source: 'ssmix2:/t', ref: f.path, format: 'ssmix2', raw: f.bytes, receivedAt: 0 }
  const pool = pooledRecordEngine(settings, 1)
  await pool.close()
  await pool.prepare([input])
  assert.equal(pool.takePrepared(input), undefined)
  assert.equal(JSON.stringify(stageInput(input, pool)), JSON.stringify(stageInput(input, recordEngine(settings))))
})
