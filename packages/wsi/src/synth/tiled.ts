/**
 * @module Synthetic tiled pyramids: `svs` (Aperio-like classic TIFF: abbreviated JPEG tiles with
 * shared JPEGTables, an Aperio ImageDescription, thumbnail strip, label and macro with fake
 * identifiers) and `tiff` (a generic tiled pyramidal BigTIFF, as vips writes). Tile by tile:
 * each level's pixels are generated per tile, so memory holds only offsets.
 */
import { stat } from 'node:fs/promises'
import { JpegEncoder } from './jpeg-encoder.ts'
import { labelRgb, macroRgb } from './label.ts'
import { checkSpec, pyramidSizes, SYNTH_DATETIME, type SynthSlideResult, type SynthSlideSpec } from './spec.ts'
import { tissueRgb } from './tissue.ts'
import { EncodePool, type EncodeJob } from './encode-pool.ts'
import { ascii, long, offsets, rational, short, TiffWriter, type TagValue } from './tiff-writer.ts'
import { Tag } from '../tiff/tags.ts'

const APERIO = 'Aperio Image Library v12.0.0'

export async function writeSvsSlide(path: string, spec: SynthSlideSpec): Promise<SynthSlideResult> {
  return writeTiled(path, spec, 'svs')
}

export async function writeTiffSlide(path: string, spec: SynthSlideSpec): Promise<SynthSlideResult> {
  return writeTiled(path, spec, 'tiff')
}

async function writeTiled(path: string, spec: SynthSlideSpec, kind: 'svs' | 'tiff'): Promise<SynthSlideResult> {
  const s = checkSpec(spec)
  const t0 = performance.now()
  const enc = await JpegEncoder.create(s.quality)
  const sizes = pyramidSizes(s.width, s.height, s.tile).slice(0, s.maxLevels || undefined)
  const w = await TiffWriter.create(path, kind === 'svs' ? 'classic' : 'bigtiff')
  const tables = enc.tables()
  const ifds: Map<number, TagValue>[] = []
  const pool = new EncodePool(s.quality, spec.threads)
  try {
    for (let li = 0; li < sizes.length; li++) {
      const { width, height } = sizes[li]
      const ds = 2 ** li
      const across = Math.ceil(width / s.tile)
      const down = Math.ceil(height / s.tile)
      const offs = new Float64Array(across * down)
      const counts = new Float64Array(across * down)
      // Tiles are always full size (the part past the image edge is just more tissue), encoded on the pool.
      const jobs = function* (): Generator<EncodeJob> {
        for (let r = 0; r < down; r++)
          for (let c = 0; c < across; c++)
            yield { kind: 'tile', x: c * s.tile, y: r * s.tile, width: s.tile, height: s.tile, downsample: ds, seed: s.seed, restartInterval: 0, firstRst: 0 }
      }
      let i = 0
      for await (const t of pool.ordered(jobs())) {
        offs[i] = await w.append(t.data)
        counts[i++] = t.data.length
      }
      const tags = imageTags(width, height)
      tags.set(Tag.NewSubfileType, long(li === 0 ? 0 : 1))
      tags.set(Tag.TileWidth, long(s.tile))
      tags.set(Tag.TileLength, long(s.tile))
      tags.set(Tag.TileOffsets, offsets(offs))
      tags.set(Tag.TileByteCounts, offsets(counts))
      tags.set(Tag.JPEGTables, { type: 'undefined', bytes: tables })
      if (kind === 'svs') {
        const desc = `${APERIO}\n${s.width}x${s.height} [0,0 ${width}x${height}] (${s.tile}x${s.tile}) JPEG/YCC Q=${s.quality}` +
          (li === 0 ? `|AppMag = 20|StripeWidth = 2040|ScanScope ID = SS1234|Filename = ${escapeBar(s.labelText)}|Date = 01/15/26|Time = 09:30:00|User = b414003d-95c6-48b0-9369-8010ed517ba7|MPP = ${s.mpp}|Barcode = ${escapeBar(s.labelText)}` : '')
        tags.set(Tag.ImageDescription, ascii(desc))
      } else {
        tags.set(Tag.XResolution, rational(10000 / (s.mpp * ds)))
        tags.set(Tag.YResolution, rational(10000 / (s.mpp * ds)))
        tags.set(Tag.ResolutionUnit, short(3))
      }
      ifds.push(tags)
    }
    if (kind === 'svs') {
      // Thumbnail (second directory, as Aperio writes), then label and macro, each one JPEG strip.
      const tw = Math.min(1024, sizes[sizes.length - 1].width)
      const th = Math.max(1, Math.round((tw * s.height) / s.width))
      const thumb = new Uint8Array(tw * th * 3)
      tissueRgb(thumb, 0, 0, tw, th, s.width / tw, s.seed)
      ifds.splice(1, 0, await stripImage(w, enc, thumb, tw, th, `${APERIO}\n${s.width}x${s.height} -> ${tw}x${th} - ;`, 0))
      ifds.push(await stripImage(w, enc, await labelRgb(600, 600, s.labelText), 600, 600, `${APERIO}\nlabel 600x600`, 1))
      ifds.push(await stripImage(w, enc, await macroRgb(1500, 500, s.labelText, s.width, s.height, s.seed), 1500, 500, `${APERIO}\nmacro 1500x500`, 9))
    }
    for (const t of ifds) w.addIfd(t)
    await w.finish()
  } catch (e) {
    await w.abort()
    throw e
  } finally {
    await pool.close()
  }
  return { path, levels: sizes, bytes: (await stat(path)).size, ms: performance.now() - t0 }
}

/** Aperio's description uses `|` between fields: keep it out of values. */
function escapeBar(v: string): string {
  return v.replace(/\|/g, '/')
}

function imageTags(width: number, height: number): Map<number, TagValue> {
  return new Map<number, TagValue>([
    [Tag.ImageWidth, long(width)],
    [Tag.ImageLength, long(height)],
    [Tag.BitsPerSample, short(8, 8, 8)],
    [Tag.Compression, short(7)],
    [Tag.Photometric, short(6)],
    [Tag.SamplesPerPixel, short(3)],
    [Tag.PlanarConfiguration, short(1)],
    [Tag.Software, ascii('Kura synthetic slide')],
    [Tag.DateTime, ascii(SYNTH_DATETIME)],
    [Tag.YCbCrSubsampling, short(1, 1)],
  ])
}

async function stripImage(w: TiffWriter, enc: JpegEncoder, rgb: Uint8Array, width: number, height: number, desc: string, subfile: number): Promise<Map<number, TagValue>> {
  const jpg = enc.encode(rgb, width, height)
  const at = await w.append(jpg)
  const tags = imageTags(width, height)
  tags.set(Tag.NewSubfileType, long(subfile))
  tags.set(Tag.ImageDescription, ascii(desc))
  tags.set(Tag.StripOffsets, offsets([at]))
  tags.set(Tag.RowsPerStrip, long(height))
  tags.set(Tag.StripByteCounts, offsets([jpg.length]))
  return tags
}
