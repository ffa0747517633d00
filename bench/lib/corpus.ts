/**
 * @module The benchmark input: a synthetic corpus on disk, built once per parameter set under
 * `/tmp/kura-bench-corpus-<params>` and reused afterwards.
 *
 * It prefers the project's generator (`@kura/dicom/synth`, Japanese names in ISO 2022 / UTF-8,
 * realistic CT/MR/ES content); when that module is missing or lacks `writeCorpus`, it falls back
 * to the tiny encoder in ./dicom-bytes.ts (plain CT, UTF-8) and says so. Either way every
 * instance has distinct UIDs, so throughput is not inflated by duplicate detection.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fallbackInstance } from './dicom-bytes.ts'
import { loud, nowMs } from './util.ts'

export interface CorpusOptions {
  studies: number
  series: number
  instances: number
  rows?: number
  cols?: number
  seed?: number
  modality?: 'CT' | 'MR' | 'ES' | 'mixed'
  /** `auto` (default): the project's generator when present, else the fallback. */
  generator?: 'auto' | 'synth' | 'fallback'
  /** Parent directory (default /tmp). */
  root?: string
}

export interface Corpus {
  dir: string
  /** Absolute paths, in generation order (study, series, instance). */
  files: string[]
  totalBytes: number
  generator: 'synth' | 'fallback'
  reused: boolean
  seconds: number
}

interface Manifest {
  generator: 'synth' | 'fallback'
  files: string[]
  totalBytes: number
}

type SynthModule = {
  writeCorpus?: (dir: string, opts: Record<string, unknown>) => unknown
  synthStudies?: (opts: Record<string, unknown>) => Iterable<unknown> | AsyncIterable<unknown>
}

async function loadSynth(): Promise<{ mod: SynthModule | null; why?: string }> {
  try {
    const mod = (await import('@kura/dicom/synth')) as unknown as SynthModule
    if (typeof mod.writeCorpus !== 'function') return { mod: null, why: '@kura/dicom/synth has no writeCorpus export' }
    return { mod }
  } catch (e) {
    return { mod: null, why: `cannot import @kura/dicom/synth: ${(e as Error).message.split('\n')[0]}` }
  }
}

function listDicomFiles(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string) => {
    for (const ent of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, ent.name)
      if (ent.isDirectory()) walk(p)
      else if (ent.isFile() && !ent.name.startsWith('.') && !ent.name.endsWith('.json')) out.push(p)
    }
  }
  walk(dir)
  return out
}

/** Builds the corpus, or reuses one already built with the same parameters. */
export async function ensureCorpus(o: CorpusOptions): Promise<Corpus> {
  const rows = o.rows ?? 128
  const cols = o.cols ?? rows
  const seed = o.seed ?? 1
  const modality = o.modality ?? 'CT'
  let generator: 'synth' | 'fallback'
  let synth: SynthModule | null = null
  if (o.generator === 'fallback') generator = 'fallback'
  else {
    const s = await loadSynth()
    synth = s.mod
    if (synth) generator = 'synth'
    else if (o.generator === 'synth') throw new Error(`--generator synth requested but ${s.why}`)
    else {
      generator = 'fallback'
      loud(`Using the benchmark's fallback generator (plain CT, UTF-8): ${s.why}.\nFigures are still comparable Kura vs Orthanc (same input), but not the project's realistic corpus.`)
    }
  }
  if (generator === 'fallback' && modality !== 'CT') throw new Error(`the fallback generator only makes CT (asked: ${modality})`)
  const name = `kura-bench-corpus-${generator}-${modality}-${o.studies}x${o.series}x${o.instances}-${rows}x${cols}-s${seed}`
  const dir = path.join(o.root ?? '/tmp', name)
  const manifestPath = path.join(dir, '.manifest.json')
  if (existsSync(manifestPath)) {
    const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest
    if (m.files.every((f) => existsSync(f))) return { dir, files: m.files, totalBytes: m.totalBytes, generator: m.generator, reused: true, seconds: 0 }
  }
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const t0 = nowMs()
  let files: string[]
  if (generator === 'synth') {
    const size = { rows, columns: cols }
    await synth!.writeCorpus!(dir, {
      studies: o.studies,
      seriesPerStudy: o.series,
      instancesPerSeries: o.instances,
      seed,
      modality,
      sizes: { CT: size, MR: size, ES: size },
    })
    files = listDicomFiles(dir)
    const expected = o.studies * o.series * o.instances
    if (files.length !== expected) throw new Error(`writeCorpus wrote ${files.length} files in ${dir}, expected ${expected}`)
  } else {
    files = []
    const pending: Promise<void>[] = []
    for (let st = 0; st < o.studies; st++) {
      for (let se = 0; se < o.series; se++) {
        const d = path.join(dir, String(st).padStart(5, '0'), String(se).padStart(3, '0'))
        mkdirSync(d, { recursive: true })
        for (let i = 0; i < o.instances; i++) {
          const f = path.join(d, `${String(i).padStart(5, '0')}.dcm`)
          files.push(f)
          pending.push(writeFile(f, fallbackInstance({ seed, study: st, series: se, instance: i, rows, cols })))
          if (pending.length >= 64) await Promise.all(pending.splice(0))
        }
      }
    }
    await Promise.all(pending)
  }
  const totalBytes = files.reduce((n, f) => n + statSync(f).size, 0)
  writeFileSync(manifestPath, JSON.stringify({ generator, files, totalBytes } satisfies Manifest))
  return { dir, files, totalBytes, generator, reused: false, seconds: (nowMs() - t0) / 1000 }
}

/**
 * Instances built in memory on demand (fallback encoder, tiny images): used to scale a catalog
 * to many instances without writing them to disk. One series per study.
 */
export function memoryInstances(o: { seed: number; count: number; perSeries?: number; rows?: number; cols?: number }): Array<() => Buffer> {
  const per = o.perSeries ?? 100
  const out: Array<() => Buffer> = []
  for (let k = 0; k < o.count; k++) {
    const study = Math.floor(k / per)
    const instance = k % per
    out.push(() => fallbackInstance({ seed: o.seed, study, series: 0, instance, rows: o.rows ?? 16, cols: o.cols ?? 16 }))
  }
  return out
}
