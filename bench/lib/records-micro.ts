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
 * `--stage` times the gateway's whole record stage instead (stageInput: parse, map, validate, de-identify, verify,
 * canonical JSON and record key; no outbox), per message, messages generated before each round; with `--out` it
 * writes every output of round 1 (clean: key and body; held: reasons) to compare two trees byte for byte. With
 * `--base DIR` (a `git archive HEAD` copy with its node_modules) it runs that tree's stage too, in the same
 * process on the same messages, the two in turns (order swapped each round), compares every output byte for byte
 * and reports both: an A/B under the same load.
 *
 *   npx tsx bench/lib/records-micro.ts [--messages N] [--rounds R] [--out FILE] [--deid DIR/packages/deid/src/index.ts]
 *   npx tsx bench/lib/records-micro.ts --stage [--messages N] [--rounds R] [--out FILE]
 *   npx tsx bench/lib/records-micro.ts --per-record [--deid DIR/packages/deid/src/index.ts] [--messages N] [--rounds R]
 *   npx tsx bench/lib/records-micro.ts --ab --base DIR [--messages N] [--rounds R]
 *   npx tsx bench/lib/records-micro.ts --parse --base DIR [--malformed] [--messages N] [--rounds R]
 */
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { SSMIX2_RECORD_TYPES, pooledRecordEngine, recordEngine, stageInput, type SpooledInput } from '@kura/gateway'
import type { ClinicalRecord } from '@kura/records'
import { synthSsmix2Files, type Ssmix2SynthFile } from '@kura/records/synth'

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

/** `total` record-type messages from generator seeds `seed`, `seed + 1000`, ... as the stage gets them. */
function inputsOf(seed: number): SpooledInput[] {
  const inputs: SpooledInput[] = []
  for (let s = seed; inputs.length < total; s += 1000) {
    for (const f of synthSsmix2Files({ patients: 2000, seed: s, years: 5, collect: false, malformed: false }) as Iterable<Ssmix2SynthFile>) {
      if (inputs.length >= total) break
      if (!wanted.has(f.path.split('/')[4]!)) continue
      inputs.push({ id: inputs.length + 1, source: 'ssmix2:/bench', ref: f.path, format: 'ssmix2', raw: f.bytes } as unknown as SpooledInput)
    }
  }
  return inputs
}

const baseDir = opt('--base', '')
if (args.includes('--parse') && baseDir) {
  // --parse --base DIR [--malformed]: the engine's readSsmix2 + validate only (file name, HL7, mapping, schema) of
  // this tree and of DIR, in turns of 500 messages, outputs compared byte for byte (held reasons and skips too).
  const base = (await import(pathToFileURL(path.resolve(baseDir, 'packages/gateway/src/index.ts')).href)) as typeof import('@kura/gateway')
  const malformed = args.includes('--malformed')
  const engines = [base.recordEngine(ctx), engine]
  const readAll = (e: typeof engine, files: Ssmix2SynthFile[]) => files.map((f) => {
    try {
      const r = e.readSsmix2(f.bytes, f.path)
      return { ...r, problems: r.records.map((rec) => e.validate(rec)) }
    } catch (err) { return { thrown: String((err as Error).message) } }
  })
  const us: number[][] = [[], []]
  let differ = 0
  for (let round = 0; round < rounds; round++) {
    const files: Ssmix2SynthFile[] = []
    for (let s = round + 1; files.length < total; s += 1000) {
      for (const f of synthSsmix2Files({ patients: 2000, seed: s, years: 5, collect: false, malformed }) as Iterable<Ssmix2SynthFile>) {
        if (files.length >= total) break
        if (wanted.has(f.path.split('/')[4]!)) files.push(f)
      }
    }
    const spent = [0, 0]
    for (let at = 0, turn = 0; at < files.length; at += 500, turn++) {
      const chunk = files.slice(at, at + 500)
      const texts: string[] = ['', '']
      for (const k of turn % 2 === 0 ? [0, 1] : [1, 0]) {
        const c0 = cpu()
        const outputs = readAll(engines[k]!, chunk)
        spent[k]! += cpu() - c0
        texts[k] = outputs.map((o) => JSON.stringify(o)).join('\n')
      }
      if (texts[0] !== texts[1]) differ++
    }
    spent.forEach((t, k) => us[k]!.push(t / files.length))
    console.log(`round ${round + 1}: ${files.length} messages: base ${us[0]![round]!.toFixed(1)}, new ${us[1]![round]!.toFixed(1)} µs CPU/message (read + validate); turns differing so far: ${differ}`)
  }
  const later = us.map((u) => u.slice(1).sort((x, y) => x - y))
  const med = (a: number[]) => a[Math.floor(a.length / 2)]!
  console.log(`rounds 2–${rounds}: ${['base', 'new'].map((n, k) => `${n} median ${med(later[k]!).toFixed(1)} (${later[k]![0]!.toFixed(1)}–${later[k]!.at(-1)!.toFixed(1)})`).join('; ')} µs CPU/message; ${differ} turns differ`)
  process.exit(differ === 0 ? 0 : 1)
}
if (args.includes('--stage') && baseDir) {
  const base = (await import(pathToFileURL(path.resolve(baseDir, 'packages/gateway/src/index.ts')).href)) as typeof import('@kura/gateway')
  const baseDeid = (await import(pathToFileURL(path.resolve(baseDir, 'packages/deid/src/index.ts')).href)) as typeof import('@kura/deid')
  const versions = [
    { name: 'base', stage: base.stageInput, engine: base.recordEngine({ ...ctx, policy: baseDeid.BASIC_POLICY }), us: [] as number[] },
    { name: 'new', stage: stageInput, engine, us: [] as number[] },
  ]
  let differ = 0
  for (let round = 0; round < rounds; round++) {
    const inputs = inputsOf(round + 1)
    // Turns of 500 messages, each staged by both (who goes first alternates): both see the same load swings.
    const spent = [0, 0]
    for (let at = 0, turn = 0; at < inputs.length; at += 500, turn++) {
      const chunk = inputs.slice(at, at + 500)
      const texts: string[][] = [[], []]
      for (const k of turn % 2 === 0 ? [0, 1] : [1, 0]) {
        const v = versions[k]!
        const c0 = cpu()
        const outputs = chunk.map((input) => v.stage(input, v.engine))
        spent[k]! += cpu() - c0
        texts[k] = outputs.map((o) => JSON.stringify(o))
      }
      for (let i = 0; i < chunk.length; i++) if (texts[0]![i] !== texts[1]![i]) differ++
    }
    versions.forEach((v, k) => v.us.push(spent[k]! / inputs.length))
    console.log(`round ${round + 1}: ${inputs.length} messages: ${versions.map((v) => `${v.name} ${v.us[round]!.toFixed(1)}`).join(', ')} µs CPU/message; outputs differing so far: ${differ}`)
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!
  console.log(`rounds 2–${rounds}: ${versions.map((v) => `${v.name} min ${Math.min(...v.us.slice(1)).toFixed(1)} median ${med(v.us.slice(1)).toFixed(1)}`).join('; ')} µs CPU/message; ${differ} outputs differ`)
  process.exit(differ === 0 ? 0 : 1)
}

if (args.includes('--ab') && baseDir) {
  // --ab --base DIR: identifiers + de-identify + verify per record, as the record engine runs them, of this tree's
  // @kura/deid and DIR's, in turns of 500 records (who goes first alternates), on the same records; every output
  // (the de-identified record, its findings, and the findings of the SOURCE record scanned as if it were output,
  // untimed) compared byte for byte.
  const baseDeid = (await import(pathToFileURL(path.resolve(baseDir, 'packages/deid/src/index.ts')).href)) as typeof import('@kura/deid')
  // --new DIR: that tree's @kura/deid as the new one (two copies of one tree: what the turns alone differ by).
  const newDir = opt('--new', '')
  const newDeid = (newDir ? await import(pathToFileURL(path.resolve(newDir, 'packages/deid/src/index.ts')).href) : await import('@kura/deid')) as typeof import('@kura/deid')
  const versions = [{ name: 'base', d: baseDeid, us: [] as number[], parts: [0, 0, 0] }, { name: 'new', d: newDeid, us: [] as number[], parts: [0, 0, 0] }]
  /** Each record's output; CPU µs of identifiers, de-identify and verify added to `parts` (a clock read between). */
  const run = (d: typeof newDeid, recs: ClinicalRecord[], parts: number[]): string[] => {
    const outs: string[] = []
    for (const rec of recs) {
      const c0 = cpu()
      const ids = d.recordIdentifiers(rec)
      const c1 = cpu()
      let deid: unknown
      try { deid = d.deidentifyRecord(rec, ctx, ids) } catch (e) { outs.push(`throws ${(e as Error).message}`); continue }
      const c2 = cpu()
      const findings = d.verifyRecord(deid, ids)
      const c3 = cpu()
      parts[0]! += c1 - c0
      parts[1]! += c2 - c1
      parts[2]! += c3 - c2
      outs.push(JSON.stringify([deid, findings]))
    }
    return outs
  }
  /** Findings of the source record scanned as if it were output (named apart, to leave it out of profiles). */
  const sourceScan = (d: typeof newDeid, rec: ClinicalRecord): string => JSON.stringify(d.verifyRecord(rec, d.recordIdentifiers(rec)))
  let differ = 0
  for (let round = 0; round < rounds; round++) {
    const batch = recordsOf(round + 1)
    const spent = [0, 0]
    for (let at = 0, turn = 0; at < batch.length; at += 500, turn++) {
      const chunk = batch.slice(at, at + 500)
      const texts: string[][] = [[], []]
      for (const k of turn % 2 === 0 ? [0, 1] : [1, 0]) {
        const c0 = cpu()
        texts[k] = run(versions[k]!.d, chunk, versions[k]!.parts)
        spent[k]! += cpu() - c0
      }
      for (let i = 0; i < chunk.length; i++) if (texts[0]![i] !== texts[1]![i]) differ++
      if (round === 0) {
        // The source records scanned as output (findings of every kind), both versions, untimed.
        for (const rec of chunk) if (sourceScan(baseDeid, rec) !== sourceScan(newDeid, rec)) differ++
      }
    }
    versions.forEach((v, k) => v.us.push(spent[k]! / batch.length))
    console.log(`round ${round + 1}: ${batch.length} records: ${versions.map((v) => `${v.name} ${v.us[round]!.toFixed(1)} (${v.parts.map((x) => (x / batch.length).toFixed(1)).join(' + ')})`).join(', ')} µs CPU/record (identifiers + de-identify + verify); outputs differing so far: ${differ}`)
    for (const v of versions) v.parts.fill(0)
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!
  console.log(`rounds 2–${rounds}: ${versions.map((v) => `${v.name} min ${Math.min(...v.us.slice(1)).toFixed(1)} median ${med(v.us.slice(1)).toFixed(1)}`).join('; ')} µs CPU/record; ${differ} outputs differ; load average ${(await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ')}`)
  process.exit(differ === 0 ? 0 : 1)
}

if (args.includes('--stage')) {
  // --pool T: the gateway's pooled engine on T worker threads (CPU of all threads), batches of 2,000 as it stages them.
  const threads = Number(opt('--pool', '0'))
  const pool = threads > 0 ? pooledRecordEngine(ctx, threads) : null
  let bestStage = Infinity
  for (let round = 0; round < rounds; round++) {
    const inputs = inputsOf(round + 1)
    const c0 = cpu()
    if (pool) for (let i = 0; i < inputs.length; i += 2000) await pool.prepare(inputs.slice(i, i + 2000))
    const outputs = inputs.map((input) => stageInput(input, pool ?? engine))
    const us = (cpu() - c0) / inputs.length
    const clean = outputs.reduce((n, o) => n + o.filter((x) => x.kind === 'clean').length, 0)
    console.log(`round ${round + 1}: ${inputs.length} messages, ${clean} clean records: stage ${us.toFixed(1)} µs CPU/message`)
    if (round > 0) bestStage = Math.min(bestStage, us)
    if (round === 0 && out) writeFileSync(out, outputs.map((o) => JSON.stringify(o)).join('\n') + '\n')
  }
  if (rounds > 1) console.log(`best of rounds 2–${rounds}: stage ${bestStage.toFixed(1)} µs CPU/message${pool ? `, on ${threads} worker thread(s), ${pool.failures.count} failures` : ''}`)
  await pool?.close()
  process.exit(0)
}

if (args.includes('--per-record')) {
  // --per-record [--deid DIR]: identifiers, de-identify and verify record by record, as the record engine runs them
  // (one version per process: under `perf stat -e instructions:u`, two versions compare without the machine's load).
  for (let round = 0; round < rounds; round++) {
    const batch = recordsOf(round + 1)
    let held = 0
    const c0 = cpu()
    for (const rec of batch) {
      const ids = recordIdentifiers(rec)
      if (verifyRecord(deidentifyRecord(rec, ctx, ids), ids).length > 0) held++
    }
    console.log(`round ${round + 1}: ${batch.length} records: identifiers + de-identify + verify ${((cpu() - c0) / batch.length).toFixed(1)} µs CPU/record; ${held} held`)
  }
  process.exit(0)
}

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
