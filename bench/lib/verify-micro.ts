/**
 * @module Micro-benchmark of the verification scan alone (no I/O, no de-identification in the timed loop): loads a
 * bench corpus, de-identifies each file in memory once, then times, per file, the gateway-side scan
 * (collectIdentifiers of the source + verifyDeidentified with them) and the hub-side scan (no identifiers).
 * Reports CPU ms per file (user+sys) and wall; run under `node --cpu-prof` to see where the time goes.
 *
 *   npx tsx bench/lib/verify-micro.ts [corpus dir] [--files N] [--rounds R] [--only gateway|scan|hub] [--shuffle]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { readDicomBuffer, type ParsedDicom } from '@kura/dicom'
import { BASIC_POLICY, collectIdentifiers, deidentifyBytes, sourcesRetainedBy, verifyDeidentified } from '@kura/deid'

function dcmFiles(dir: string, out: string[] = [], max = Infinity): string[] {
  for (const e of readdirSync(dir).sort()) {
    if (out.length >= max) break
    const p = path.join(dir, e)
    if (statSync(p).isDirectory()) dcmFiles(p, out, max)
    else if (e.endsWith('.dcm')) out.push(p)
  }
  return out
}

const args = process.argv.slice(2)
const opt = (name: string, d: number) => {
  const i = args.indexOf(name)
  return i >= 0 ? Number(args[i + 1]) : d
}
const dir = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--')) ?? '/tmp/kura-bench-corpus-synth-CT-5x2x100-128x128-s1'
const files = dcmFiles(dir, [], opt('--files', 500))
const rounds = opt('--rounds', 5)

const secret = new Uint8Array(32).fill(7)
const ctx = { policy: BASIC_POLICY, secret, collection: 'bench' }
const pairs: Array<{ source: ParsedDicom; written: ParsedDicom }> = []
for (const f of files) {
  const bytes = readFileSync(f)
  const source = readDicomBuffer(bytes)
  const { output } = await deidentifyBytes(bytes, ctx, source)
  pairs.push({ source, written: readDicomBuffer(output, { bulkDataThreshold: 64 * 1024 * 1024 }) })
}
const retainedSources = sourcesRetainedBy(BASIC_POLICY.options)
// --shuffle: objects of different subjects interleaved (a gateway with several sources), not series by series.
if (args.includes('--shuffle')) {
  let seed = 1
  for (let i = pairs.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2147483648
    const j = seed % (i + 1)
    ;[pairs[i], pairs[j]] = [pairs[j]!, pairs[i]!]
  }
}

function time(label: string, fn: (p: (typeof pairs)[number]) => number): void {
  let findings = 0
  const w0 = process.cpuUsage()
  for (const p of pairs) findings += fn(p) // the first pass: every cache cold for each new subject and value
  const w = process.cpuUsage(w0)
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  for (let r = 0; r < rounds; r++) for (const p of pairs) fn(p)
  const wall = performance.now() - t0
  const c = process.cpuUsage(c0)
  const n = rounds * pairs.length
  console.log(`${label}: ${((c.user + c.system) / 1000 / n).toFixed(4)} CPU ms/file, ${(wall / n).toFixed(4)} wall ms/file (${n} scans); first pass ${((w.user + w.system) / 1000 / pairs.length).toFixed(4)} CPU ms/file, ${findings} findings`)
}

console.log(`${pairs.length} files from ${dir}, ${rounds} rounds; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`)
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined
if (!only || only === 'gateway') time('gateway (collect + scan)', (p) => verifyDeidentified(p.written, collectIdentifiers(p.source), { source: p.source, retainedSources }).findings.length)
if (!only || only === 'scan') {
  const ids = new Map(pairs.map((p) => [p, collectIdentifiers(p.source)]))
  time('gateway (scan only)     ', (p) => verifyDeidentified(p.written, ids.get(p)!, { source: p.source, retainedSources }).findings.length)
}
if (!only || only === 'hub') time('hub (no identifiers)    ', (p) => verifyDeidentified(p.written, [], { patterns: true, requireIdentityRemoved: true }).findings.length)
