/**
 * @module Micro-benchmark of the gateway record engine's reading alone: readSsmix2 (file name, ISO-2022-JP decode,
 * HL7 parse, mapping) + validate, per message, on synthetic SS-MIX2 messages generated once before the timed loop
 * (the record-type ones the gateway takes: ADT-00, OMG-11, OMG-12, OML-11). With `--base DIR` (a `git archive
 * HEAD` copy with its node_modules) it runs that tree's engine too, in turns of 500 messages (who goes first
 * alternates), compares every output byte for byte and reports both: an A/B under the same load. `--split` times
 * this tree's steps apart (decode, parse, map, validate). `--malformed` mixes in the generator's malformed files;
 * `--all` takes every data type it writes.
 * Run under `node --cpu-prof --import tsx` to see where the time goes.
 *
 *   npx tsx bench/lib/records-read-micro.ts [--base DIR] [--messages N] [--rounds R] [--malformed] [--all] [--patients P] [--split]
 */
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { BASIC_POLICY } from '@kura/deid'
import { SSMIX2_RECORD_TYPES, recordEngine, type RecordEngine } from '@kura/gateway'
import { decodeHl7Bytes, parseHl7, parseSsmix2FileName, toClinicalRecords, validateRecord, type Hl7Message } from '@kura/records'
import { synthSsmix2Files, type Ssmix2SynthFile } from '@kura/records/synth'

const args = process.argv.slice(2)
const opt = (name: string, d: string): string => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1]! : d
}
const total = Number(opt('--messages', '20000'))
const rounds = Number(opt('--rounds', '5'))
const baseDir = opt('--base', '')
const malformed = args.includes('--malformed')
/** Every data type the generator writes (orders, visits...), not only the record types the gateway takes. */
const allTypes = args.includes('--all')
/** Patients per generator run (a run ends with its malformed patient when --malformed is given). */
const patients = Number(opt('--patients', '2000'))
const ctx = { policy: BASIC_POLICY, secret: new Uint8Array(32).fill(7), collection: 'bench' }
const wanted = new Set(SSMIX2_RECORD_TYPES)

const files: Ssmix2SynthFile[] = []
for (let s = 1; files.length < total; s += 1000) {
  for (const f of synthSsmix2Files({ patients, seed: s, years: 5, collect: false, malformed }) as Iterable<Ssmix2SynthFile>) {
    if (files.length >= total) break
    if (allTypes || wanted.has(f.path.split('/')[4]!)) files.push(f)
  }
}

const cpu = (): number => { const u = process.cpuUsage(); return u.user + u.system }

function readOne(e: RecordEngine, f: Ssmix2SynthFile): unknown {
  try {
    const r = e.readSsmix2(f.bytes, f.path)
    const problems = r.records.map((rec) => e.validate(rec))
    return [r, problems]
  } catch (err) {
    return { thrown: String((err as Error).message) }
  }
}

const engines: Array<{ name: string; engine: RecordEngine; us: number[] }> = [{ name: 'new', engine: recordEngine(ctx), us: [] }]
if (baseDir) {
  const base = (await import(pathToFileURL(path.resolve(baseDir, 'packages/gateway/src/index.ts')).href)) as typeof import('@kura/gateway')
  engines.unshift({ name: 'base', engine: base.recordEngine(ctx), us: [] })
}

let differ = 0
/** new/base CPU of each turn after the first round: paired, so a load swing that hits both cancels out. */
const ratios: number[] = []
/** µs CPU per message of each turn after the first round, per engine: their low percentiles are the least disturbed. */
const turnUs: number[][] = engines.map(() => [])
for (let round = 0; round < rounds; round++) {
  const spent = engines.map(() => 0)
  for (let at = 0, turn = 0; at < files.length; at += 500, turn++) {
    const chunk = files.slice(at, at + 500)
    const texts: string[] = engines.map(() => '')
    const order = engines.map((_, k) => k)
    if (turn % 2 === 1) order.reverse()
    const turnSpent = engines.map(() => 0)
    for (const k of order) {
      const outputs: unknown[] = []
      const c0 = cpu()
      for (const f of chunk) outputs.push(readOne(engines[k]!.engine, f))
      turnSpent[k] = cpu() - c0
      spent[k]! += turnSpent[k]!
      if (engines.length > 1) texts[k] = JSON.stringify(outputs)
    }
    if (engines.length > 1 && texts[0] !== texts[1]) differ++
    if (engines.length > 1 && round > 0) ratios.push(turnSpent[1]! / turnSpent[0]!)
    if (round > 0) turnSpent.forEach((t, k) => turnUs[k]!.push(t / chunk.length))
  }
  engines.forEach((e, k) => e.us.push(spent[k]! / files.length))
  console.log(`round ${round + 1}: ${files.length} messages: ${engines.map((e) => `${e.name} ${e.us[round]!.toFixed(1)}`).join(', ')} µs CPU/message; turns differing: ${differ}`)
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!
if (rounds > 1) console.log(`rounds 2–${rounds}: ${engines.map((e) => `${e.name} median ${med(e.us.slice(1)).toFixed(1)} min ${Math.min(...e.us.slice(1)).toFixed(1)}`).join('; ')} µs CPU/message; ${differ} turns differ`)
if (turnUs[0]!.length > 0) {
  const pct = (a: number[], p: number) => [...a].sort((x, y) => x - y)[Math.floor(a.length * p)]!
  console.log(`per turn of 500, µs CPU/message: ${engines.map((e, k) => `${e.name} p10 ${pct(turnUs[k]!, 0.1).toFixed(1)}, p25 ${pct(turnUs[k]!, 0.25).toFixed(1)}`).join('; ')}`)
}
if (ratios.length > 0) {
  const r = [...ratios].sort((x, y) => x - y)
  console.log(`new/base per turn (${r.length} turns of 500): median ${med(r).toFixed(3)}, quartiles ${r[Math.floor(r.length / 4)]!.toFixed(3)}–${r[Math.floor((3 * r.length) / 4)]!.toFixed(3)}`)
}

if (args.includes('--split')) {
  // This tree's steps apart, on the same messages: where a message's reading time goes.
  const t = { name: 0, decode: 0, parse: 0, map: 0, validate: 0 }
  for (let round = 0; round < 3; round++) {
    const r = { name: 0, decode: 0, parse: 0, map: 0, validate: 0 }
    const msgs: Array<Hl7Message | null> = []
    const names = []
    let c = cpu()
    for (const f of files) names.push(parseSsmix2FileName(f.path.slice(f.path.lastIndexOf('/') + 1)))
    r.name = cpu() - c
    c = cpu()
    for (const f of files) { try { decodeHl7Bytes(f.bytes) } catch { /* counted below */ } }
    r.decode = cpu() - c
    c = cpu()
    for (const f of files) { try { msgs.push(parseHl7(f.bytes)) } catch { msgs.push(null) } }
    r.parse = cpu() - c
    c = cpu()
    const recs = []
    for (let i = 0; i < files.length; i++) {
      const n = names[i]!
      const m = msgs[i]
      if (m && n.ok) recs.push(...toClinicalRecords(m, { path: files[i]!.path, file: n.name }).records)
    }
    r.map = cpu() - c
    c = cpu()
    for (const rec of recs) validateRecord(rec)
    r.validate = cpu() - c
    if (round > 0) for (const k of Object.keys(t) as Array<keyof typeof t>) t[k] += r[k] / 2
  }
  const n = files.length
  console.log(`split (new, µs CPU/message): file name ${(t.name / n).toFixed(1)}, decode ${(t.decode / n).toFixed(1)}, parse incl. decode ${(t.parse / n).toFixed(1)}, map ${(t.map / n).toFixed(1)}, validate ${(t.validate / n).toFixed(1)}`)
}
process.exit(differ === 0 ? 0 : 1)
