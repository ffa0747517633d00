/**
 * @module Micro-benchmark of a clinical record's de-identification and verification alone (no outbox, no parsing in
 * the timed loop): synthetic SS-MIX2 messages are read into records once, then each round times, per record,
 * recordIdentifiers + deidentifyRecord + verifyRecord (as the gateway's record engine runs them). Each round has
 * its own patients (generator seed = round), so per-subject caches start cold as in the gateway. Reports CPU µs
 * per record; run under `node --cpu-prof` to see where the time goes. `--out FILE` writes every output (the
 * de-identified record and its findings, one JSON line each, first round) to compare two versions byte for byte.
 *
 * `--deid DIR` takes @kura/deid from another copy (e.g. `git archive HEAD packages/deid` unpacked, with a
 * node_modules link), for an A/B of two versions under the same load.
 *
 *   npx tsx bench/lib/records-micro.ts [--messages N] [--rounds R] [--out FILE] [--deid DIR/packages/deid/src/index.ts]
 */
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { SSMIX2_RECORD_TYPES, recordEngine } from '@kura/gateway'
import type { ClinicalRecord } from '@kura/records'
import { synthSsmix2Files } from '@kura/records/synth'

const args = process.argv.slice(2)
const opt = (name: string, d: string): string => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1]! : d
}
const total = Number(opt('--messages', '20000'))
const rounds = Number(opt('--rounds', '3'))
const out = opt('--out', '')
const deidModule = opt('--deid', '')
const { BASIC_POLICY, deidentifyRecord, recordIdentifiers, verifyRecord } = (deidModule ? await import(pathToFileURL(path.resolve(deidModule)).href) : await import('@kura/deid')) as typeof import('@kura/deid')

const secret = new Uint8Array(32).fill(7)
const ctx = { policy: BASIC_POLICY, secret, collection: 'bench' }
const engine = recordEngine(ctx)
const wanted = new Set(SSMIX2_RECORD_TYPES)

/** Records of `total` messages from generator seeds `seed`, `seed + 1000`, ... (2,000 patients each). */
function recordsOf(seed: number): ClinicalRecord[] {
  const records: ClinicalRecord[] = []
  let messages = 0
  for (let s = seed; messages < total; s += 1000) {
    for (const f of synthSsmix2Files({ patients: 2000, seed: s, years: 5, collect: false, malformed: false })) {
      if (messages >= total) break
      if (!wanted.has(f.path.split('/')[4]!)) continue
      messages++
      try {
        const r = engine.readSsmix2(f.bytes, f.path)
        for (const rec of r.records) if (engine.validate(rec).length === 0) records.push(rec)
      } catch { /* held by the stage: not this bench's business */ }
    }
  }
  return records
}

const cpu = (): number => { const u = process.cpuUsage(); return u.user + u.system }
const best = { deid: Infinity, verify: Infinity }
for (let round = 0; round < rounds; round++) {
  const batch = recordsOf(round + 1)
  // Two passes, as the stage runs them per record (identifiers, de-identify; then verify), timed apart.
  const c0 = cpu()
  const ids = batch.map((rec) => recordIdentifiers(rec))
  const deid = batch.map((rec, i) => deidentifyRecord(rec, ctx, ids[i]))
  const c1 = cpu()
  const findings = deid.map((d, i) => verifyRecord(d, ids[i]!))
  const c2 = cpu()
  const n = batch.length
  const held = findings.filter((f) => f.length > 0).length
  console.log(`round ${round + 1}: ${n} records from ${total} messages: identifiers + de-identify ${((c1 - c0) / n).toFixed(1)}, verify ${((c2 - c1) / n).toFixed(1)} µs CPU/record; ${held} held`)
  if (round > 0) {
    best.deid = Math.min(best.deid, (c1 - c0) / n)
    best.verify = Math.min(best.verify, (c2 - c1) / n)
  }
  if (round === 0 && out) {
    // The source record verified as if it were output: findings galore, to compare them too (not timed).
    writeFileSync(out, deid.map((d, i) => JSON.stringify({ deid: d, findings: findings[i], raw: verifyRecord(batch[i], recordIdentifiers(batch[i]!)) })).join('\n') + '\n')
  }
}
if (rounds > 1) console.log(`best of rounds 2–${rounds}: identifiers + de-identify ${best.deid.toFixed(1)}, verify ${best.verify.toFixed(1)} µs CPU/record`)
