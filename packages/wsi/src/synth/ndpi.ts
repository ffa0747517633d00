/**
 * @module Synthetic Hamamatsu NDPI: each level is ONE baseline JPEG with a restart marker every
 * `tile` pixels of an MCU row and the intervals' offsets in McuStarts (65426), header dimensions
 * 0 past 65,535 px, the objective in SourceLens (65421), a macro image (SourceLens −1) carrying
 * the fake label, and the Reference tag (65427) in every directory. Streams one MCU row at a time.
 */
import { stat } from 'node:fs/promises'
import { JpegEncoder } from './jpeg-encoder.ts'
import { macroRgb } from './label.ts'
import { checkSpec, pyramidSizes, SYNTH_DATETIME, type SynthSlideResult, type SynthSlideSpec } from './spec.ts'
import { EncodePool, type EncodeJob } from './encode-pool.ts'
import { ascii, float, long, rational, short, slong, TiffWriter, type TagValue } from './tiff-writer.ts'
import { Tag } from '../tiff/tags.ts'

export const NdpiTag = {
  FormatFlag: 65420,
  SourceLens: 65421,
  XOffset: 65422,
  YOffset: 65423,
  FocalPlane: 65424,
  McuStarts: 65426,
  Reference: 65427,
  McuStartsHighBytes: 65432,
  PropertyMap: 65449,
} as const

const MCU = 8
const MACRO = { width: 1200, height: 400 }

/** Restart interval in MCUs: the tile width if it divides an MCU row, else the largest divisor below it. */
function restartInterval(mcusPerRow: number, tileMcus: number): number {
  for (let d = Math.min(tileMcus, mcusPerRow); d > 1; d--) if (mcusPerRow % d === 0) return d
  return 1
}

export async function writeNdpiSlide(path: string, spec: SynthSlideSpec): Promise<SynthSlideResult> {
  const s = checkSpec(spec)
  const t0 = performance.now()
  const enc = await JpegEncoder.create(s.quality)
  const sizes = pyramidSizes(s.width, s.height, s.tile)
  const w = await TiffWriter.create(path, 'ndpi')
  const pool = new EncodePool(s.quality, spec.threads)
  try {
    // The Reference tag holds the slide label's text in real files: our fake identifiers go there too.
    const reference = s.labelText
    for (let li = 0; li < sizes.length; li++) {
      const { width, height } = sizes[li]
      const ds = 2 ** li
      const mcusPerRow = Math.ceil(width / MCU)
      const mcuRows = Math.ceil(height / MCU)
      const ri = restartInterval(mcusPerRow, s.tile / MCU)
      const perRow = mcusPerRow / ri
      const starts = new Float64Array(perRow * mcuRows)
      const header = enc.header(width, height, { tables: true, restartInterval: ri, jfif: true })
      const stripStart = await w.append(header)
      // MCU rows encode independently (each starts a restart interval) on the pool; appended in order.
      const jobs = function* (): Generator<EncodeJob> {
        for (let r = 0; r < mcuRows; r++)
          yield { kind: 'ndpi-row', x: 0, y: r * MCU, width, height: Math.min(MCU, height - r * MCU), downsample: ds, seed: s.seed, restartInterval: ri, firstRst: r * perRow }
      }
      let r = 0
      for await (const sc of pool.ordered(jobs())) {
        const base = r * perRow
        if (r > 0) await w.append(Uint8Array.of(0xff, 0xd0 + ((base - 1) & 7)))
        const at = await w.append(sc.data)
        for (let k = 0; k < perRow; k++) starts[base + k] = at + sc.intervalStarts[k] - stripStart
        r++
      }
      await w.append(Uint8Array.of(0xff, 0xd9))
      const bytes = w.position - stripStart
      const tags = baseTags(width, height, stripStart, bytes, s.mpp * ds, reference)
      tags.set(NdpiTag.SourceLens, float(20 / ds))
      tags.set(NdpiTag.McuStarts, { type: 'long', values: starts })
      if (li === 0)
        tags.set(
          NdpiTag.PropertyMap,
          ascii(['Objective.Lens.Magnificant=20', 'NDP.S/N=SYNTH-0001', 'Product=Kura synthetic NDPI', `Created=${SYNTH_DATETIME}`].join('\r\n')),
        )
      w.addIfd(tags)
    }
    const macro = enc.encode(await macroRgb(MACRO.width, MACRO.height, s.labelText, s.width, s.height, s.seed), MACRO.width, MACRO.height)
    const macroAt = await w.append(macro)
    const mt = baseTags(MACRO.width, MACRO.height, macroAt, macro.length, 0, reference)
    mt.set(NdpiTag.SourceLens, float(-1))
    w.addIfd(mt)
    await w.finish()
  } catch (e) {
    await w.abort()
    throw e
  } finally {
    await pool.close()
  }
  return { path, levels: sizes, bytes: (await stat(path)).size, ms: performance.now() - t0 }
}

function baseTags(width: number, height: number, offset: number, bytes: number, mpp: number, reference: string): Map<number, TagValue> {
  const m = new Map<number, TagValue>([
    [Tag.NewSubfileType, long(0)],
    [Tag.ImageWidth, long(width)],
    [Tag.ImageLength, long(height)],
    [Tag.BitsPerSample, short(8, 8, 8)],
    [Tag.Compression, short(7)],
    [Tag.Photometric, short(6)],
    [Tag.Make, ascii('Hamamatsu')],
    [Tag.Model, ascii('C13220')],
    [Tag.StripOffsets, long(offset)],
    [Tag.SamplesPerPixel, short(3)],
    [Tag.RowsPerStrip, long(height)],
    [Tag.StripByteCounts, long(bytes)],
    [Tag.Software, ascii('NDP.scan 3.2.15 (Kura synthetic)')],
    [Tag.DateTime, ascii(SYNTH_DATETIME)],
    [NdpiTag.FormatFlag, long(1)],
    [NdpiTag.XOffset, slong(1234567)],
    [NdpiTag.YOffset, slong(-765432)],
    [NdpiTag.FocalPlane, slong(0)],
    [NdpiTag.Reference, ascii(reference)],
  ])
  if (mpp > 0) {
    m.set(Tag.XResolution, rational(10000 / mpp))
    m.set(Tag.YResolution, rational(10000 / mpp))
    m.set(Tag.ResolutionUnit, short(3))
  }
  return m
}
