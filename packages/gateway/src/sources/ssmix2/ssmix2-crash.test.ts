/**
 * Crash safety of the SS-MIX2 hand-off: messages go to the pipeline in memory and their files are taken in the
 * transaction that settles their records. A process (the source and the pipeline, as the gateway wires them) is
 * killed with SIGKILL while batches are being staged and settled, restarted, killed again, then left to finish:
 * afterwards every message file is taken, and each of its records is queued (or held) exactly once.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BASIC_POLICY } from '@kura/deid'
import { readSsmix2Tree } from '@kura/records'
import { writeSsmix2Tree } from '@kura/records/synth'
import { Outbox } from '../../outbox/index.ts'
import { recordEngine, stageInput } from '../../pipeline/index.ts'
import { SSMIX2_RECORD_TYPES } from './ssmix2-source.ts'

const url = (p: string) => new URL(p, import.meta.url).href
/** The gateway's SS-MIX2 wiring in a process of its own; prints `settled` per hand-off, `scanned` at the end. */
const CHILD = `
const [{ BASIC_POLICY }, { Outbox }, { Pipeline, recordEngine }, { Ssmix2Source }] = await Promise.all([
  import(${JSON.stringify(url('../../../../deid/src/index.ts'))}), import(${JSON.stringify(url('../../outbox/index.ts'))}),
  import(${JSON.stringify(url('../../pipeline/index.ts'))}), import(${JSON.stringify(url('./ssmix2-source.ts'))})])
const [spool, tree, secret] = JSON.parse(process.argv[1])
const settings = { policy: BASIC_POLICY, secret: Buffer.from(secret, 'hex'), collection: 'c' }
const ob = Outbox.open(spool)
ob.recover()
const pipeline = new Pipeline(ob, settings, { pollMs: 50, records: recordEngine(settings) })
const src = new Ssmix2Source({ path: tree, rescanSeconds: 3600, settleSeconds: 0 }, ob, {
  batch: 5, handOff: (inputs) => pipeline.receivedRecords(inputs).then(() => { process.stdout.write('settled\\n') }),
})
pipeline.start()
await src.scan()
process.stdout.write('scanned\\n')
await src.stop()
await pipeline.stop()
ob.close()
`
const TSX = import.meta.resolve('tsx')

/** Runs the child until its `killAt`-th settled hand-off (then SIGKILL a moment later), or to the end. */
function runChild(args: string[], killAt: number | null): Promise<{ settled: number; finished: boolean }> {
  const child: ChildProcess = spawn(process.execPath, ['--import', TSX, '--input-type=module', '-e', CHILD, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] })
  let settled = 0
  let finished = false
  let err = ''
  child.stderr!.on('data', (d) => (err += d))
  child.stdout!.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n')) {
      if (line === 'scanned') finished = true
      if (line !== 'settled') continue
      settled++
      if (settled === killAt) setTimeout(() => child.kill('SIGKILL'), Math.random() * 5)
    }
  })
  return new Promise((resolve, reject) => child.on('close', (code, signal) => {
    if (code !== 0 && signal !== 'SIGKILL') reject(new Error(`the child exited ${code ?? signal}: ${err}`))
    else resolve({ settled, finished })
  }))
}

test('kill -9 while SS-MIX2 messages are staged and settled: afterwards every file is taken and each record queued or held exactly once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-ssmix2-crash-'))
  const tree = join(dir, 'tree')
  const spool = join(dir, 'spool')
  try {
    await writeSsmix2Tree(tree, { patients: 20, years: 3, seed: 11 })
    const secret = Buffer.alloc(32, 3)
    const settings = { policy: BASIC_POLICY, secret, collection: 'c' }
    // What each file the source takes holds, staged here (the stage is deterministic): clean keys and held counts.
    const engine = recordEngine(settings)
    const files: string[] = []
    const keys = new Set<string>()
    const keysPerFile = new Map<string, string[]>()
    const heldPerFile = new Map<string, number>()
    for await (const item of readSsmix2Tree(tree, { dataTypes: SSMIX2_RECORD_TYPES })) {
      if (item.status !== 'current' && item.status !== 'held') continue
      files.push(item.path)
      const outputs = stageInput({ id: null, source: 's', ref: item.path, format: 'ssmix2', raw: readFileSync(join(tree, item.path)), receivedAt: 0 }, engine)
      keysPerFile.set(item.path, outputs.flatMap((o) => (o.kind === 'clean' ? [o.key] : [])))
      for (const k of keysPerFile.get(item.path)!) keys.add(k)
      heldPerFile.set(item.path, outputs.filter((o) => o.kind === 'held').length)
    }
    assert.ok(files.length > 40, `enough files for several hand-offs (${files.length})`)

    // After each kill and at the end: a file is taken exactly when its records are there, each exactly once.
    const check = (complete: boolean): number => {
      const ob = Outbox.open(spool)
      try {
        const taken = new Set((ob.db.prepare('SELECT path FROM taken').pluck().all() as string[]).map((p) => p.slice(tree.length + 1)))
        const rows = ob.db.prepare('SELECT o.source_ref AS ref, o.state, r.key FROM objects o JOIN records r ON r.id = o.id').all() as Array<{ ref: string; state: string; key: string | null }>
        for (const r of rows) assert.ok(taken.has(r.ref), `${r.ref} has records, so it is taken`)
        const queued = rows.filter((r) => r.state === 'queued').map((r) => r.key!)
        assert.equal(queued.length, new Set(queued).size, 'no record queued twice')
        const queuedKeys = new Set(queued)
        for (const ref of taken) for (const k of keysPerFile.get(ref)!) assert.ok(queuedKeys.has(k), `${ref} is taken, so its records are queued`)
        const held = new Map<string, number>()
        for (const r of rows) if (r.state === 'quarantined') held.set(r.ref, (held.get(r.ref) ?? 0) + 1)
        for (const ref of taken) assert.equal(held.get(ref) ?? 0, heldPerFile.get(ref), `${ref}: its held records, once`)
        if (complete) {
          assert.equal(taken.size, files.length, 'every file is taken')
          assert.deepEqual(queuedKeys, keys, 'every clean record is queued')
        }
        assert.equal(ob.db.prepare('SELECT COUNT(*) FROM record_inputs').pluck().get(), 0, 'nothing spooled')
        return taken.size
      } finally {
        ob.close()
      }
    }

    const args = [spool, tree, secret.toString('hex')]
    let before = 0
    for (const killAt of [1, 3, 2, 5]) {
      const r = await runChild(args, killAt)
      assert.equal(r.finished, false, 'killed mid-scan')
      const taken = check(false)
      assert.ok(taken > before && taken < files.length, `killed after some hand-offs were settled and before all (${before} → ${taken} of ${files.length})`)
      before = taken
    }
    const last = await runChild(args, null)
    assert.ok(last.finished)
    check(true)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
