import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BASIC_POLICY, generateSecret } from '@kura/deid'
import { ENCODINGS, shippedAdapterPath } from '@kura/records'
import { generateVendorExport, type VendorLayout } from '@kura/records/synth'
import { Outbox, RecordOutbox } from '../../outbox/index.ts'
import { Pipeline, recordEngine } from '../../pipeline/index.ts'
import { VendorExportSource } from './vendor-export-source.ts'

async function until(what: string, cond: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

for (const layout of ['vendor-a-csv', 'vendor-b-xml'] as VendorLayout[]) {
  test(`${layout} exports in every encoding: each exam queued or held with its reason, nothing read twice after a restart`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kura-export-src-'))
    const drop = join(dir, 'drop')
    mkdirSync(drop)
    try {
      const made = ENCODINGS.map((encoding, i) => ({ encoding, g: generateVendorExport({ layout, encoding, exams: 6, seed: 40 + i }) }))
      const secret = generateSecret()
      const settings = { policy: BASIC_POLICY, secret, collection: 'c' }
      const cfg = { path: drop, adapter: shippedAdapterPath(layout as 'vendor-a-csv'), settleSeconds: 0, rescanSeconds: 3600 }
      let ob = Outbox.open(join(dir, 'spool'))
      ob.recover()
      let rec = new RecordOutbox(ob)
      const pipeline = new Pipeline(ob, settings, { pollMs: 50, records: recordEngine(settings) })
      // An adapter names one encoding: a site exporting in another copies the adapter and changes it, as here.
      const sources: VendorExportSource[] = []
      for (const { encoding } of made) {
        const sub = join(drop, encoding)
        mkdirSync(sub)
        const adapterText = readFileSync(cfg.adapter, 'utf8').replace(/^encoding:.*$/m, `encoding: ${encoding}`)
        writeFileSync(join(dir, `${encoding}.yaml`), adapterText)
        sources.push(new VendorExportSource({ ...cfg, path: sub, adapter: join(dir, `${encoding}.yaml`) }, ob, { onTaken: () => pipeline.kick() }))
      }
      made.forEach(({ encoding, g }, i) => writeFileSync(join(drop, encoding, `export-${i}.${layout.endsWith('xml') ? 'xml' : 'csv'}`), g.bytes))
      pipeline.start()
      for (const s of sources) await s.scan()
      await until('every input processed', () => rec.inputCount() === 0)
      for (const s of sources) assert.equal(s.files, 1, `${s.name}: its export read once`)
      const totalExams = made.reduce((n, m) => n + m.g.exams.length, 0)
      const totalHeld = made.reduce((n, m) => n + m.g.expectedHeld, 0)
      const states = rec.counts().states
      assert.equal((states.queued ?? 0) + (states.quarantined ?? 0), totalExams + totalHeld, JSON.stringify(states))
      const held = rec.held(1000)
      for (const { g } of made) {
        for (const m of g.malformed) {
          assert.ok(held.some((h) => h.reasons.some((r) => r.message.includes(m.reason))), `${m.kind}: held with a reason containing "${m.reason}"`)
        }
      }
      for (const s of sources) await s.stop()
      await pipeline.stop()
      ob.close()

      // Restart: the finished files are remembered.
      ob = Outbox.open(join(dir, 'spool'))
      ob.recover()
      rec = new RecordOutbox(ob)
      const again = made.map(({ encoding }) => new VendorExportSource({ ...cfg, path: join(drop, encoding), adapter: join(dir, `${encoding}.yaml`) }, ob))
      for (const s of again) await s.scan()
      assert.equal(again.reduce((n, s) => n + s.items, 0), 0, 'nothing read twice')
      assert.equal(rec.inputCount(), 0)
      ob.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
}
