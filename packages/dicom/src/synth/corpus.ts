/**
 * @module Synthetic corpus as Part 10 bytes: streamed instance by instance, or written to a folder.
 *
 * `synthStudies` is synchronous so a benchmark can pull millions of instances without an
 * event-loop hop each; JPEG endoscopy needs sharp, which is asynchronous, so it is only
 * produced by `synthStudiesAsync` (and `writeCorpus`, which uses it).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { KuraError } from '@kura/core'
import type { PersonName } from '../types.ts'
import { writeDicom } from '../writer.ts'
import { TRANSFER_SYNTAX, normalizeOptions, planCorpus, type SynthCharset, type SynthElement, type SynthModality, type SynthOptions, type SynthPlanned } from './datasets.ts'
import { encodeBaselineJpeg } from './pixels.ts'

export interface SynthInstance {
  studyInstanceUid: string
  seriesInstanceUid: string
  sopInstanceUid: string
  patientId: string
  /** Relative `study/series/n.dcm`. */
  path: string
  bytes: Uint8Array
  modality: SynthModality
  charset: SynthCharset
  /** The patient name as generated, to compare with what a reader decodes. */
  patientName: PersonName
  transferSyntaxUID: string
}

const PIXEL_DATA = 0x7fe00010

function toBytes(p: SynthPlanned, pixelData: SynthElement, extra: SynthElement[] = []): SynthInstance {
  const replaced = new Set(extra.map((e) => e.tag))
  const dataset = [...p.elements.filter((e) => !replaced.has(e.tag)), ...extra, pixelData].sort((a, b) => a.tag - b.tag)
  const bytes = writeDicom({ dataset }, { transferSyntaxUID: p.transferSyntaxUID })
  return {
    studyInstanceUid: p.study.studyInstanceUid,
    seriesInstanceUid: p.seriesInstanceUid,
    sopInstanceUid: p.sopInstanceUid,
    patientId: p.study.patient.patientId,
    path: p.path,
    bytes,
    modality: p.study.modality,
    charset: p.study.patient.charset,
    patientName: p.study.patient.name,
    transferSyntaxUID: p.transferSyntaxUID,
  }
}

function nativePixelData(p: SynthPlanned): SynthElement {
  // 16-bit images are OW; 8-bit RGB is OB (either is valid in explicit VR for 8-bit).
  return { tag: PIXEL_DATA, vr: p.study.modality === 'ES' ? 'OB' : 'OW', value: p.pixels }
}

/**
 * Every instance of the corpus as Part 10 bytes, lazily. Endoscopy images are native RGB;
 * asking for JPEG here is an error (use `synthStudiesAsync`).
 */
export function* synthStudies(opts: SynthOptions): Generator<SynthInstance> {
  const o = normalizeOptions(opts)
  if (o.esPixels !== 'native' && (o.modality === 'ES' || o.modality === 'mixed')) {
    throw new KuraError('SYNTH_JPEG_NEEDS_ASYNC', 'JPEG endoscopy images are compressed asynchronously; use synthStudiesAsync (or esPixels: "native").', { status: 400 })
  }
  for (const p of planCorpus(opts)) yield toBytes(p, nativePixelData(p))
}

/** As `synthStudies`, with JPEG baseline endoscopy images when `esPixels` asks for them. */
export async function* synthStudiesAsync(opts: SynthOptions): AsyncGenerator<SynthInstance> {
  for (const p of planCorpus(opts)) {
    if (p.transferSyntaxUID !== TRANSFER_SYNTAX.jpegBaseline) {
      yield toBytes(p, nativePixelData(p))
      continue
    }
    const jpeg = await encodeBaselineJpeg(p.pixels, p.size.rows, p.size.columns)
    const ratio = p.pixels.length / jpeg.length
    yield toBytes(p, encapsulatedPixelData(jpeg), [
      // Baseline JPEG of colour images is YCbCr, 4:2:0 subsampled as sharp writes it (PS3.5 8.2.1).
      { tag: 0x00280004, vr: 'CS', value: 'YBR_FULL_422' },
      { tag: 0x00282110, vr: 'CS', value: '01' },
      { tag: 0x00282112, vr: 'DS', value: [String(Number(ratio.toFixed(2)))] },
      { tag: 0x00282114, vr: 'CS', value: ['ISO_10918_1'] },
    ])
  }
}

/** One frame in one fragment; the writer adds the empty Basic Offset Table and pads odd lengths (PS3.5 A.4). */
function encapsulatedPixelData(jpeg: Uint8Array): SynthElement {
  return { tag: PIXEL_DATA, vr: 'OB', value: [jpeg] }
}

export interface WriteCorpusResult {
  files: number
  bytes: number
  studies: number
}

/**
 * Writes the corpus under `dir` as `study/series/n.dcm`. `onFile` is called after each file,
 * for progress reporting.
 */
export async function writeCorpus(dir: string, opts: SynthOptions, onFile?: (inst: SynthInstance, done: { files: number; bytes: number }) => void): Promise<WriteCorpusResult> {
  let files = 0
  let bytes = 0
  const studies = new Set<string>()
  const made = new Set<string>()
  for await (const inst of synthStudiesAsync(opts)) {
    const path = join(dir, inst.path)
    const parent = dirname(path)
    if (!made.has(parent)) {
      await mkdir(parent, { recursive: true })
      made.add(parent)
    }
    await writeFile(path, inst.bytes)
    files++
    bytes += inst.bytes.length
    studies.add(inst.studyInstanceUid)
    onFile?.(inst, { files, bytes })
  }
  return { files, bytes, studies: studies.size }
}
