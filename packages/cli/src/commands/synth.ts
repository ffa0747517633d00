/**
 * @module `kura synth dicom` / `kura synth slide`: write a deterministic synthetic DICOM corpus
 * or whole-slide image, for tests, benchmarks and demos without real patient data.
 */
import { statSync } from 'node:fs'
import { resolve } from 'node:path'
import { UsageError, choiceFlag, intFlag, parseFlags } from '../args.ts'
import { Progress, formatBytes, formatDuration } from '../progress.ts'

export const help = `Usage: kura synth dicom --out DIR [--studies N] [--series M] [--instances K] [options]
       kura synth slide --format svs|ndpi|tiff|dicom --width W --height H --out FILE [options]
       kura synth ssmix2 --out DIR [--patients N] [--seed S] [--years Y] [--dicom-studies K]

kura synth ssmix2 writes an SS-MIX2 standardized storage tree (HL7 v2.5, ISO-2022-JP) of made-up
patients with several years of demographics, visits, endoscopy, pathology and radiology messages,
real-world variants and a few deliberately malformed files. --dicom-studies K also gives records to
the K studies "kura synth dicom --studies K --seed S" writes (same patients and Study Instance UIDs).

kura synth slide writes one synthetic whole-slide image, tile by tile (memory stays flat up to
100k × 100k): svs (Aperio-like: JPEG tiles with shared tables, thumbnail, label, macro), ndpi
(Hamamatsu-like: one JPEG per level with restart markers, macro, Reference tag), tiff (tiled
pyramidal BigTIFF). Labels and macros carry the fake identifiers of --label-text.
  --tile N              Tile (NDPI: restart-interval) width, multiple of 8 (default 256).
  --quality Q           JPEG quality 1–100 (default 90).
  --label-text TEXT     Fake identifiers drawn on the label (default "山田 太郎 ID 12345678").
  (--format dicom writes one instance per level: --out is then a folder.)

Writes a synthetic DICOM corpus as DIR/<study>/<series>/<n>.dcm: made-up Japanese patients
(names in romaji, kanji and kana), CT, MR and endoscopy images of simple phantoms, in ISO 2022
IR 87 / IR 13 or UTF-8. The same options and seed always give byte-identical files.

Options:
  --out DIR             Folder to write into (created if missing). Required.
  --studies N           Studies (default 3).
  --series M            Series per study (default 2).
  --instances K         Instances per series (default 10).
  --seed S              Seed (default 1).
  --modality M          CT, MR, ES (endoscopy) or mixed: CT, MR, ES in turn (default mixed).
  --charset C           ir87 (ISO 2022 IR 87, some patients IR 13 + IR 87 with half-width kana),
                        ir192 (UTF-8) or mixed (default mixed).
  --rows R, --cols C    Image size for every modality (default CT 512², MR 256², ES 480×640).
  --es-pixels P         Endoscopy pixel data: native, jpeg (baseline, encapsulated) or mixed (default mixed).
  --help                Show this help.
`

const MODALITIES = ['CT', 'MR', 'ES', 'mixed'] as const
const CHARSETS = ['ir87', 'ir192', 'mixed'] as const
const ES_PIXELS = ['native', 'jpeg', 'mixed'] as const

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags('synth', argv, {
    out: { type: 'string', short: 'o' },
    studies: { type: 'string' },
    series: { type: 'string' },
    instances: { type: 'string' },
    seed: { type: 'string' },
    modality: { type: 'string' },
    charset: { type: 'string' },
    rows: { type: 'string' },
    cols: { type: 'string' },
    'es-pixels': { type: 'string' },
    format: { type: 'string' },
    width: { type: 'string' },
    height: { type: 'string' },
    tile: { type: 'string' },
    quality: { type: 'string' },
    'label-text': { type: 'string' },
    patients: { type: 'string' },
    years: { type: 'string' },
    'dicom-studies': { type: 'string' },
  }, true)
  const [kind, ...extra] = positionals
  if (kind === 'ssmix2') {
    if (extra.length > 0) throw new UsageError(`Unexpected argument "${extra[0]}". Run "kura synth --help".`)
    return synthSsmix2(values)
  }
  if (kind === 'slide') {
    if (extra.length > 0) throw new UsageError(`Unexpected argument "${extra[0]}". Run "kura synth --help".`)
    return synthSlide(values)
  }
  if (kind !== 'dicom') throw new UsageError(kind === undefined ? 'Say what to synthesise: "kura synth dicom --out DIR …".' : `Unknown corpus kind "${kind}"; "dicom" is the one there is. Run "kura synth --help".`)
  if (extra.length > 0) throw new UsageError(`Unexpected argument "${extra[0]}". Run "kura synth --help".`)
  if (!values.out) throw new UsageError('--out is required: the folder to write the corpus into.')
  const studies = intFlag('synth', 'studies', values.studies, 3, 1, 10_000_000)
  const seriesPerStudy = intFlag('synth', 'series', values.series, 2, 1, 10_000)
  const instancesPerSeries = intFlag('synth', 'instances', values.instances, 10, 1, 100_000)
  const seed = intFlag('synth', 'seed', values.seed, 1, 0, 2 ** 31 - 1)
  const modality = choiceFlag('synth', 'modality', values.modality, MODALITIES, 'mixed')
  const charset = choiceFlag('synth', 'charset', values.charset, CHARSETS, 'mixed')
  const esPixels = choiceFlag('synth', 'es-pixels', values['es-pixels'], ES_PIXELS, 'mixed')
  let sizes
  if (values.rows !== undefined || values.cols !== undefined) {
    const rows = intFlag('synth', 'rows', values.rows ?? values.cols, 0, 8, 8192)
    const columns = intFlag('synth', 'cols', values.cols ?? values.rows, 0, 8, 8192)
    sizes = { CT: { rows, columns }, MR: { rows, columns }, ES: { rows, columns } }
  }

  const { writeCorpus } = await import('@kura/dicom/synth')
  const out = resolve(values.out)
  const total = studies * seriesPerStudy * instancesPerSeries
  const progress = new Progress({ label: 'synth', totalFiles: total })
  const started = Date.now()
  const r = await writeCorpus(out, { studies, seriesPerStudy, instancesPerSeries, seed, modality, charset, esPixels, sizes }, (_i, done) => progress.update(done.files, done.bytes))
  progress.done()
  process.stdout.write(`Wrote ${r.files} files (${formatBytes(r.bytes)}, ${r.studies} studies) to ${out} in ${formatDuration(Date.now() - started)}\n`)
  return 0
}

const SLIDE_FORMATS = ['svs', 'ndpi', 'tiff', 'dicom'] as const

async function synthSlide(values: Record<string, string | boolean | undefined>): Promise<number> {
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined)
  const format = choiceFlag('synth', 'format', str('format'), SLIDE_FORMATS, 'svs')
  if (!str('out')) throw new UsageError('--out is required: the slide file to write.')
  if (!str('width') || !str('height')) throw new UsageError('--width and --height are required (pixels at full resolution, e.g. 4096 and 3072).')
  const spec = {
    width: intFlag('synth', 'width', str('width'), 0, 16, 1_000_000),
    height: intFlag('synth', 'height', str('height'), 0, 16, 1_000_000),
    tile: intFlag('synth', 'tile', str('tile'), 256, 16, 4096),
    quality: intFlag('synth', 'quality', str('quality'), 90, 1, 100),
    seed: intFlag('synth', 'seed', str('seed'), 1, 0, 2 ** 31 - 1),
    labelText: str('label-text'),
  }
  if (spec.tile % 8 !== 0) throw new UsageError(`--tile ${spec.tile} must be a multiple of 8.`)
  const out = resolve(str('out')!)
  let r: { bytes: number; ms: number; levels: { width: number; height: number }[] }
  const w = await import('@kura/wsi/synth')
  if (format === 'dicom') {
    // DICOM WSI is one instance per level: --out is the folder they go into.
    const t0 = performance.now()
    const d = await w.writeDicomSlide({ width: spec.width, height: spec.height, tileSize: spec.tile, quality: spec.quality, seed: spec.seed, out, label: spec.labelText })
    let bytes = 0
    for (const f of d.files) bytes += statSync(f).size
    r = { bytes, ms: performance.now() - t0, levels: d.levels }
  } else {
    const write = format === 'svs' ? w.writeSvsSlide : format === 'ndpi' ? w.writeNdpiSlide : w.writeTiffSlide
    r = await write(out, spec)
  }
  const dims = r.levels.map((l) => `${l.width}×${l.height}`).join(', ')
  process.stdout.write(`Wrote ${format} slide ${out} (${formatBytes(r.bytes)}, levels ${dims}) in ${formatDuration(r.ms)}\n`)
  return 0
}

async function synthSsmix2(values: Record<string, string | boolean | undefined>): Promise<number> {
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined)
  if (!str('out')) throw new UsageError('--out is required: the folder to write the SS-MIX2 tree into.')
  const seed = intFlag('synth', 'seed', str('seed'), 1, 0, 2 ** 31 - 1)
  const dicomStudies = intFlag('synth', 'dicom-studies', str('dicom-studies'), 0, 0, 10_000_000)
  const { writeSsmix2Tree } = await import('@kura/records/synth')
  const out = resolve(str('out')!)
  const started = Date.now()
  const progress = new Progress({ label: 'synth', totalFiles: 0 })
  const r = await writeSsmix2Tree(out, {
    patients: intFlag('synth', 'patients', str('patients'), 10, 0, 10_000_000),
    years: intFlag('synth', 'years', str('years'), 3, 1, 50),
    seed,
    dicom: dicomStudies > 0 ? { studies: dicomStudies, seriesPerStudy: 1, instancesPerSeries: 1, seed } : undefined,
    collect: false,
  }, (d) => progress.update(d.files, d.bytes))
  progress.done()
  const e = r.expected
  process.stdout.write(`Wrote ${r.files} SS-MIX2 files (${formatBytes(r.bytes)}) to ${out} in ${formatDuration(Date.now() - started)}: ` +
    `${e.records.patient} patients, ${e.records.endoscopy} endoscopy, ${e.records.pathology} pathology, ${e.records.radiology} radiology records; ` +
    `${e.superseded} superseded, ${e.deleted} deleted, ${e.heldByReader + e.heldByMapping} to be held\n`)
  return 0
}
