import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BASIC_POLICY, generateSecret } from '@kura/deid'
import { formatSsmix2FileName, parseSsmix2FileName, readSsmix2Tree } from '@kura/records'
import { writeSsmix2Tree } from '@kura/records/synth'
import { Outbox, RecordOutbox } from '../../outbox/index.ts'
import { Pipeline, recordEngine } from '../../pipeline/index.ts'
import { SSMIX2_RECORD_TYPES, Ssmix2Source } from './ssmix2-source.ts'

async function until(what: string, cond: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

test('an SS-MIX2 tree: current files of record types taken once, malformed ones held with reasons, updates and withdrawals respected across restarts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-ssmix2-src-'))
  const tree = join(dir, 'tree')
  try {
    const made = await writeSsmix2Tree(tree, { patients: 4, years: 2, seed: 5 })
    // What the reference reader says the record folders hold: the files a source must take.
    let expectTaken = 0
    for await (const item of readSsmix2Tree(tree, { dataTypes: SSMIX2_RECORD_TYPES })) if (item.status === 'current' || item.status === 'held') expectTaken++
    assert.ok(expectTaken > 10)

    const secret = generateSecret()
    const settings = { policy: BASIC_POLICY, secret, collection: 'c' }
    let ob = Outbox.open(join(dir, 'spool'))
    ob.recover()
    let pipeline = new Pipeline(ob, settings, { pollMs: 50, records: recordEngine(settings) })
    let src = new Ssmix2Source({ path: tree, rescanSeconds: 3600, settleSeconds: 0 }, ob, { handOff: (inputs) => pipeline.receivedRecords(inputs) })
    let rec = new RecordOutbox(ob)
    pipeline.start()
    await src.scan()
    assert.equal(src.counters.taken, expectTaken, 'every current (or unreadable) file of a record type, and nothing else')
    await until('every input processed', () => rec.inputCount() === 0)
    const counts = rec.counts().states
    assert.ok((counts.queued ?? 0) > 0, `some records are queued (${JSON.stringify(counts)})`)

    // Every malformed file the generator planted in a record folder is held, with the reason the generator names.
    const held = rec.held(1000)
    const inRecordFolders = made.malformed.filter((m) => SSMIX2_RECORD_TYPES.includes(m.path.split('/')[4]!))
    assert.ok(inRecordFolders.length >= 4)
    for (const m of inRecordFolders) {
      const h = held.find((x) => x.ref === m.path)
      assert.ok(h, `${m.reason}: held`)
      const text = h.reasons.map((r) => `${r.path} ${r.message}`).join(' | ')
      assert.ok(text.includes(m.code), `${m.reason}: the reasons (${text}) name ${m.code}`)
    }

    // Restart: nothing is taken again.
    await src.stop()
    await pipeline.stop()
    ob.close()
    ob = Outbox.open(join(dir, 'spool'))
    ob.recover()
    rec = new RecordOutbox(ob)
    pipeline = new Pipeline(ob, settings, { pollMs: 50, records: recordEngine(settings) })
    src = new Ssmix2Source({ path: tree, rescanSeconds: 3600, settleSeconds: 0 }, ob, { handOff: (inputs) => pipeline.receivedRecords(inputs) })
    pipeline.start()
    await src.scan()
    assert.equal(src.counters.taken, 0, 'a restart re-sends nothing')

    // An update: the writer adds a newer flag-1 file for an order and renames the old one to flag 0.
    const current = made.studies.find((s) => s.kind === 'endoscopy')!.path
    const folder = join(tree, current.slice(0, current.lastIndexOf('/')))
    const old = parseSsmix2FileName(current.slice(current.lastIndexOf('/') + 1))
    assert.ok(old.ok)
    const newer = formatSsmix2FileName({ ...old.name, timestamp: `${String(Number(old.name.timestamp.slice(0, 4)) + 1)}${old.name.timestamp.slice(4)}` })
    writeFileSync(join(folder, newer), readFileSync(join(tree, current)))
    renameSync(join(tree, current), join(folder, formatSsmix2FileName({ ...old.name, flag: '0' })))
    // A withdrawal: another order's only file renamed to flag 0, with no replacement.
    const other = made.studies.find((s) => s.kind === 'radiology' && !s.path.startsWith(current.slice(0, current.lastIndexOf('/'))))!.path
    const o = parseSsmix2FileName(other.slice(other.lastIndexOf('/') + 1))
    assert.ok(o.ok)
    renameSync(join(tree, other), join(tree, other.slice(0, other.lastIndexOf('/')), formatSsmix2FileName({ ...o.name, flag: '0' })))
    await src.scan()
    assert.equal(src.counters.taken, 1, 'only the newer version of the updated order is taken')
    assert.ok(src.counters.withdrawn >= 1, 'the withdrawn order is noticed and not sent')
    await until('the update processed', () => rec.inputCount() === 0)
    await src.stop()
    await pipeline.stop()
    ob.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
