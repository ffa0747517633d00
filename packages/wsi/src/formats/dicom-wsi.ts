/**
 * @module DICOM WSI (VL Whole Slide Microscopy Image, PS3.3 A.32.8): a slide is a SET of instances, one
 * (or a concatenation of several) per pyramid level plus LABEL/OVERVIEW/THUMBNAIL instances. Only each
 * instance's header is parsed; frame byte ranges come from the offset tables, so a tile costs one read.
 */
import sharp from 'sharp'
import { KuraError, type ByteSource } from '@kura/core'
import {
  frameRanges, getItems, getNumber, getNumbers, getString, getStrings, readDicom, transferSyntaxInfo, TransferSyntax,
  type ByteRange, type DicomDataset, type ParsedDicom,
} from '@kura/dicom'
import { WsiErrors } from '../errors.ts'
import { isJpeg, spliceJpeg } from '../codecs/jpeg.ts'
import { composeRegion } from '../region.ts'
import { standardProperties, type AssociatedImage, type AssociatedName, type EncodedTile, type Level, type RgbaPixels, type Slide, type SlideFormat } from '../reader.ts'

export const VL_WHOLE_SLIDE_MICROSCOPY_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.77.1.6'

// PS3.6 tags this reader needs (kept here as hex: the dictionary's Tags object lists only the common ones).
const T = {
  SOPClassUID: 0x00080016,
  ImageType: 0x00080008,
  SeriesInstanceUID: 0x0020000e,
  FrameOfReferenceUID: 0x00200052,
  ConcatenationFrameOffsetNumber: 0x00209228,
  DimensionOrganizationType: 0x00209311,
  SamplesPerPixel: 0x00280002,
  PhotometricInterpretation: 0x00280004,
  PlanarConfiguration: 0x00280006,
  NumberOfFrames: 0x00280008,
  Rows: 0x00280010,
  Columns: 0x00280011,
  PixelSpacing: 0x00280030,
  BitsAllocated: 0x00280100,
  PixelMeasuresSequence: 0x00289110,
  TotalPixelMatrixColumns: 0x00480006,
  TotalPixelMatrixRows: 0x00480007,
  OpticalPathSequence: 0x00480105,
  ObjectiveLensPower: 0x00480112,
  PlanePositionSlideSequence: 0x0048021a,
  ColumnPositionInTotalImagePixelMatrix: 0x0048021e,
  RowPositionInTotalImagePixelMatrix: 0x0048021f,
  SharedFunctionalGroupsSequence: 0x52009229,
  PerFrameFunctionalGroupsSequence: 0x52009230,
  ExtendedOffsetTable: 0x7fe00001,
  ExtendedOffsetTableLengths: 0x7fe00002,
  PixelData: 0x7fe00010,
} as const

/** A frame's pixel layout beyond which we refuse to allocate (a corrupt header must not cost gigabytes). */
const MAX_FRAME_PIXELS = 64 * 1024 * 1024
const MAX_DIMENSION = 2 ** 31 - 1

const JPEG_SYNTAXES = new Set<string>([TransferSyntax.JPEGBaseline8Bit, TransferSyntax.JPEGExtended12Bit])
// JPEG 2000 and HTJ2K (…4.202 is HTJ2K with RPCL): sharp's bundled libvips has no JPEG 2000 decoder.
const JPEG2000_SYNTAXES = new Set<string>([TransferSyntax.JPEG2000Lossless, TransferSyntax.JPEG2000, TransferSyntax.HTJ2KLossless, '1.2.840.10008.1.2.4.202', TransferSyntax.HTJ2K])

// Codes of this reader; messages say what to do. (Candidates for packages/wsi/src/errors.ts.)
export const DicomWsiErrors = {
  notWsi: (why: string) =>
    new KuraError('WSI_DICOM_NOT_WSI', `The DICOM instances are not a whole-slide image (${why}). Send the VL Whole Slide Microscopy instances of one slide.`, { status: 415 }),
  mixedSlides: (why: string) =>
    new KuraError('WSI_DICOM_MIXED_SLIDES', `The DICOM instances belong to more than one slide (${why}). Send the instances of one series only.`, { status: 400 }),
  unsupportedSyntax: (ts: string, what: string) =>
    new KuraError(
      'WSI_UNSUPPORTED_COMPRESSION',
      `DICOM WSI frames in transfer syntax ${ts} (${what}) cannot be decoded here. Convert the slide to JPEG baseline frames (OrthancWSIDicomizer --compression=jpeg, or wsidicomizer).`,
      { status: 415, details: { transferSyntaxUID: ts } },
    ),
  missingTile: (level: number, col: number, row: number) =>
    new KuraError('WSI_TILE_MISSING', `Tile ${col},${row} of level ${level} is not stored in the slide (a TILED_SPARSE slide without that frame); treat it as background.`, {
      status: 404,
      details: { level, col, row },
    }),
}

type ImageFlavor = 'VOLUME' | 'LABEL' | 'OVERVIEW' | 'THUMBNAIL'

/** One instance: its header and how to find frame i's bytes. */
class Instance {
  private ranges?: Promise<(i: number) => Promise<ByteRange[]>>
  constructor(
    readonly src: ByteSource,
    readonly parsed: ParsedDicom,
    readonly flavor: ImageFlavor,
    readonly width: number,
    readonly height: number,
    readonly tileWidth: number,
    readonly tileHeight: number,
    readonly frames: number,
  ) {}

  get ds(): DicomDataset {
    return this.parsed.dataset
  }
  get ts(): string {
    return this.parsed.transferSyntaxUID
  }

  static async open(src: ByteSource): Promise<Instance> {
    // Header only: Pixel Data (and everything after it) is located later, by offset table.
    const parsed = await readDicom(src, { untilTag: T.PixelData })
    const ds = parsed.dataset
    const sopClass = getString(ds, T.SOPClassUID)
    if (sopClass !== VL_WHOLE_SLIDE_MICROSCOPY_IMAGE_STORAGE) throw DicomWsiErrors.notWsi(`SOP Class UID is ${sopClass ?? 'absent'}`)
    const flavor = (getStrings(ds, T.ImageType)[2] ?? 'VOLUME').toUpperCase()
    const tileWidth = getNumber(ds, T.Columns) ?? 0
    const tileHeight = getNumber(ds, T.Rows) ?? 0
    const width = getNumber(ds, T.TotalPixelMatrixColumns) ?? tileWidth
    const height = getNumber(ds, T.TotalPixelMatrixRows) ?? tileHeight
    if (!(width > 0 && height > 0 && width <= MAX_DIMENSION && height <= MAX_DIMENSION))
      throw WsiErrors.malformed(`DICOM total pixel matrix ${width}×${height} is absurd`)
    if (!(tileWidth > 0 && tileHeight > 0) || tileWidth * tileHeight > MAX_FRAME_PIXELS)
      throw WsiErrors.malformed(`DICOM frame size ${tileWidth}×${tileHeight} is absurd`)
    const nf = getNumber(ds, T.NumberOfFrames) ?? 1
    if (!(Number.isInteger(nf) && nf > 0)) throw WsiErrors.malformed(`Number of Frames ${nf} is not a positive integer`)
    const known: ImageFlavor[] = ['VOLUME', 'LABEL', 'OVERVIEW', 'THUMBNAIL']
    return new Instance(src, parsed, known.includes(flavor as ImageFlavor) ? (flavor as ImageFlavor) : 'VOLUME', width, height, tileWidth, tileHeight, nf)
  }

  /** Frame i's fragments (or its one native range), reading at most the offset table now. */
  async frame(i: number): Promise<ByteRange[]> {
    this.ranges ??= this.locate()
    return (await this.ranges)(i)
  }

  private async locate(): Promise<(i: number) => Promise<ByteRange[]>> {
    const info = transferSyntaxInfo(this.ts)
    if (!info.encapsulated || this.parsed.deflated) {
      // Native pixel data is never loaded by readDicom, so a full parse is one short read past the header.
      const all = frameRanges(await readDicom(this.src))
      return async (i) => all[i]
    }
    // Encapsulated: the parse stopped at the Pixel Data element; its header is 12 bytes, then the Basic Offset Table item.
    const at = this.parsed.size
    if (at + 20 > this.src.size) throw WsiErrors.truncated(at, 20, this.src.size)
    const head = await this.src.read(at, 20)
    if (head.length < 20) throw WsiErrors.truncated(at, 20, this.src.size)
    const dv = new DataView(head.buffer, head.byteOffset, 20)
    const tag = ((dv.getUint16(0, true) << 16) | dv.getUint16(2, true)) >>> 0
    if (tag !== T.PixelData) throw WsiErrors.malformed(`expected Pixel Data at offset ${at}`)
    const botLen = dv.getUint32(16, true)
    const first = at + 20 + botLen // the first fragment's item tag: offsets count from here (PS3.5 A.4)
    let offsets: number[] | undefined
    const eot = this.ds.elements.get(T.ExtendedOffsetTable)
    if (eot) {
      const b = eot.bytes ?? (await this.src.read(eot.offset, eot.length))
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
      offsets = Array.from({ length: b.length >>> 3 }, (_, k) => Number(v.getBigUint64(k * 8, true)))
    } else if (botLen > 0) {
      if (at + 20 + botLen > this.src.size) throw WsiErrors.truncated(at + 20, botLen, this.src.size)
      const b = await this.src.read(at + 20, botLen)
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
      offsets = Array.from({ length: botLen >>> 2 }, (_, k) => v.getUint32(k * 4, true))
    }
    if (!offsets || offsets.length !== this.frames) {
      // No table: scan the fragment item headers once (readDicom does), and group them with frameRanges.
      const all = frameRanges(await readDicom(this.src))
      if (all.length < this.frames) throw WsiErrors.malformed(`Pixel Data holds ${all.length} frames, Number of Frames says ${this.frames}`)
      return async (i) => all[i]
    }
    const table = offsets
    return async (i) => {
      // A frame is the items from its offset up to the next frame's offset (the last: up to the sequence delimiter).
      const start = first + table[i]
      const end = i + 1 < table.length ? first + table[i + 1] : undefined
      const out: ByteRange[] = []
      let pos = start
      for (;;) {
        if (end !== undefined && pos >= end) break
        if (pos + 8 > this.src.size) throw WsiErrors.truncated(pos, 8, this.src.size)
        const h = await this.src.read(pos, 8)
        if (h.length < 8) throw WsiErrors.truncated(pos, 8, this.src.size)
        const hv = new DataView(h.buffer, h.byteOffset, 8)
        const t = ((hv.getUint16(0, true) << 16) | hv.getUint16(2, true)) >>> 0
        if (t === 0xfffee0dd) break
        if (t !== 0xfffee000) throw WsiErrors.malformed(`frame ${i + 1} does not start at an item (offset ${pos})`)
        const len = hv.getUint32(4, true)
        if (pos + 8 + len > this.src.size) throw WsiErrors.truncated(pos + 8, len, this.src.size)
        out.push({ offset: pos + 8, length: len })
        pos += 8 + len
      }
      if (out.length === 0) throw WsiErrors.malformed(`frame ${i + 1} has no fragments`)
      return out
    }
  }

  async frameBytes(i: number): Promise<Uint8Array> {
    const ranges = await this.frame(i)
    if (ranges.length === 1) return this.src.read(ranges[0].offset, ranges[0].length)
    const parts = await Promise.all(ranges.map((r) => this.src.read(r.offset, r.length)))
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
    let p = 0
    for (const part of parts) {
      out.set(part, p)
      p += part.length
    }
    return out
  }
}

/** One pyramid level: instances sharing a total pixel matrix, and where each tile is stored. */
interface LevelTiles {
  readonly level: Level
  readonly parts: readonly Instance[]
  /** (row * across + col) → [part index, frame index], for TILED_SPARSE (and per-frame positions without a type). */
  readonly sparse?: ReadonlyMap<number, readonly [number, number]>
  /** Frame offsets of each part in the whole level, for TILED_FULL concatenations. */
  readonly partOffsets: readonly number[]
  readonly across: number
  readonly down: number
}

function levelTiles(parts: Instance[], w0: number, h0: number): LevelTiles {
  const p0 = parts[0]
  const across = Math.ceil(p0.width / p0.tileWidth)
  const down = Math.ceil(p0.height / p0.tileHeight)
  const level: Level = {
    width: p0.width,
    height: p0.height,
    tileWidth: p0.tileWidth,
    tileHeight: p0.tileHeight,
    downsample: (w0 / p0.width + h0 / p0.height) / 2,
  }
  parts.sort((a, b) => (getNumber(a.ds, T.ConcatenationFrameOffsetNumber) ?? 0) - (getNumber(b.ds, T.ConcatenationFrameOffsetNumber) ?? 0))
  const partOffsets = parts.map((p) => getNumber(p.ds, T.ConcatenationFrameOffsetNumber) ?? 0)
  const organisation = getString(p0.ds, T.DimensionOrganizationType)
  const hasPositions = getItems(p0.ds, T.PerFrameFunctionalGroupsSequence).some((it) => getItems(it, T.PlanePositionSlideSequence).length > 0)
  // TILED_FULL (PS3.3 C.8.12.4.1.3): frame order is implied, positions may be absent. Otherwise per-frame positions decide.
  if (organisation === 'TILED_FULL' || !hasPositions) return { level, parts, partOffsets, across, down }
  const sparse = new Map<number, readonly [number, number]>()
  parts.forEach((part, pi) => {
    getItems(part.ds, T.PerFrameFunctionalGroupsSequence).forEach((item, fi) => {
      const pos = getItems(item, T.PlanePositionSlideSequence)[0]
      if (!pos) return
      const c = getNumber(pos, T.ColumnPositionInTotalImagePixelMatrix)
      const r = getNumber(pos, T.RowPositionInTotalImagePixelMatrix)
      if (c === undefined || r === undefined) return
      // Positions are 1-based pixel positions of the frame's top-left; frames off the tile grid are not tiles we serve.
      if ((c - 1) % part.tileWidth !== 0 || (r - 1) % part.tileHeight !== 0) return
      const key = ((r - 1) / part.tileHeight) * across + (c - 1) / part.tileWidth
      // Several focal planes / optical paths share a position: the first one stored wins.
      if (!sparse.has(key)) sparse.set(key, [pi, fi])
    })
  })
  return { level, parts, partOffsets, across, down, sparse }
}

class DicomSlide implements Slide {
  readonly format = 'dicom-wsi' as const
  readonly levels: readonly Level[]
  readonly mpp?: { x: number; y: number }
  readonly objectivePower?: number
  readonly properties: Readonly<Record<string, string>>
  readonly associated: ReadonlyMap<AssociatedName, AssociatedImage>

  constructor(
    private readonly tiles: readonly LevelTiles[],
    associated: Map<AssociatedName, AssociatedImage>,
    private readonly sources: readonly ByteSource[],
  ) {
    this.levels = tiles.map((t) => t.level)
    this.associated = associated
    const ds = tiles[0].parts[0].ds
    // PixelSpacing is row spacing \ column spacing, in mm (PS3.3 10.7.1.3).
    const shared = getItems(ds, T.SharedFunctionalGroupsSequence)[0]
    const measures = shared ? getItems(shared, T.PixelMeasuresSequence)[0] : undefined
    const spacing = measures ? getNumbers(measures, T.PixelSpacing) : []
    if (spacing.length === 2 && spacing[0] > 0 && spacing[1] > 0) this.mpp = { x: spacing[1] * 1000, y: spacing[0] * 1000 }
    const power = getItems(ds, T.OpticalPathSequence).map((it) => getNumber(it, T.ObjectiveLensPower)).find((p) => p !== undefined && p > 0)
    if (power !== undefined) this.objectivePower = power
    const props: Record<string, string> = { 'openslide.vendor': 'dicom', ...standardProperties(this.levels, this.mpp, this.objectivePower) }
    for (const [k, tag] of [['SeriesInstanceUID', T.SeriesInstanceUID], ['FrameOfReferenceUID', T.FrameOfReferenceUID], ['DimensionOrganizationType', T.DimensionOrganizationType]] as const) {
      const v = getString(ds, tag)
      if (v) props[`dicom.${k}`] = v
    }
    this.properties = props
  }

  private where(level: number, col: number, row: number): { part: Instance; frame: number } {
    const t = this.tiles[level]
    if (!t) throw WsiErrors.outOfRange(`Level ${level} does not exist (the slide has ${this.tiles.length})`)
    if (!(Number.isInteger(col) && Number.isInteger(row) && col >= 0 && row >= 0 && col < t.across && row < t.down))
      throw WsiErrors.outOfRange(`Tile ${col},${row} is outside level ${level} (${t.across}×${t.down} tiles)`)
    const index = row * t.across + col
    if (t.sparse) {
      const hit = t.sparse.get(index)
      if (!hit) throw DicomWsiErrors.missingTile(level, col, row)
      return { part: t.parts[hit[0]], frame: hit[1] }
    }
    // TILED_FULL: frame number = row * across + col + 1 within the first focal plane and optical path;
    // concatenation parts hold consecutive runs of frames.
    for (let p = t.parts.length - 1; p >= 0; p--) {
      const local = index - t.partOffsets[p]
      if (local >= 0) {
        if (local >= t.parts[p].frames) break
        return { part: t.parts[p], frame: local }
      }
    }
    throw DicomWsiErrors.missingTile(level, col, row)
  }

  async tile(level: number, col: number, row: number): Promise<EncodedTile> {
    const { part, frame } = this.where(level, col, row)
    return encodedFrame(part, frame)
  }

  async tilePixels(level: number, col: number, row: number): Promise<RgbaPixels> {
    const { part, frame } = this.where(level, col, row)
    return decodeFrame(await encodedFrame(part, frame))
  }

  async readRegion(level: number, x: number, y: number, width: number, height: number): Promise<RgbaPixels> {
    const t = this.tiles[level]
    if (!t) throw WsiErrors.outOfRange(`Level ${level} does not exist (the slide has ${this.tiles.length})`)
    const { width: lw, height: lh, tileWidth, tileHeight, downsample } = t.level
    const pixels = (col: number, row: number) =>
      this.tilePixels(level, col, row).catch((e: unknown) => {
        // A sparse slide's missing tile is background: transparent, as OpenSlide paints it.
        if (e instanceof KuraError && e.code === 'WSI_TILE_MISSING') return null
        throw e
      })
    return composeRegion({ width: lw, height: lh, tileWidth, tileHeight, pixels }, Math.floor(x / downsample), Math.floor(y / downsample), width, height)
  }

  async close(): Promise<void> {
    await Promise.all(this.sources.map((s) => s.close().catch(() => {})))
  }
}

async function encodedFrame(part: Instance, frame: number): Promise<EncodedTile> {
  const ts = part.ts
  const width = part.tileWidth
  const height = part.tileHeight
  if (JPEG2000_SYNTAXES.has(ts)) throw DicomWsiErrors.unsupportedSyntax(ts, 'JPEG 2000; sharp has no JPEG 2000 decoder')
  const bytes = await part.frameBytes(frame)
  if (JPEG_SYNTAXES.has(ts)) {
    if (!isJpeg(bytes)) throw WsiErrors.malformed(`frame ${frame + 1} of a JPEG instance does not start with a JPEG SOI marker`)
    // Photometric RGB means the JPEG components are R, G, B (no colour transform); without an Adobe APP14
    // marker decoders would assume YCbCr, so mark it (the Aperio tiles OrthancWSIDicomizer copies are such).
    const rgb = getString(part.ds, T.PhotometricInterpretation) === 'RGB'
    return { bytes: rgb ? spliceJpeg(bytes, undefined, true) : bytes, mediaType: 'image/jpeg', encoding: 'jpeg', width, height }
  }
  if (!transferSyntaxInfo(ts).encapsulated) {
    const spp = getNumber(part.ds, T.SamplesPerPixel) ?? 1
    const bits = getNumber(part.ds, T.BitsAllocated) ?? 8
    const photometric = getString(part.ds, T.PhotometricInterpretation)
    if (spp !== 3 || bits !== 8 || photometric !== 'RGB' || (getNumber(part.ds, T.PlanarConfiguration) ?? 0) !== 0)
      throw WsiErrors.unsupportedLayout(`native DICOM frames with ${spp} samples of ${bits} bits, ${photometric ?? 'no'} photometric interpretation`)
    if (bytes.length < width * height * 3) throw WsiErrors.malformed(`frame ${frame + 1} holds ${bytes.length} bytes, expected ${width * height * 3}`)
    return { bytes, mediaType: 'application/octet-stream', encoding: 'raw', width, height }
  }
  throw DicomWsiErrors.unsupportedSyntax(ts, 'not JPEG baseline or uncompressed')
}

async function decodeFrame(t: EncodedTile): Promise<RgbaPixels> {
  const w = t.width
  const h = t.height
  if (t.encoding === 'jpeg') {
    const { data, info } = await sharp(t.bytes).toColourspace('srgb').ensureAlpha().raw().toBuffer({ resolveWithObject: true })
    if (info.width !== w || info.height !== h || info.channels !== 4)
      throw WsiErrors.malformed(`a JPEG frame decodes to ${info.width}×${info.height}×${info.channels}, expected ${w}×${h}×4 (instance frame size)`)
    return { data: new Uint8Array(data.buffer, data.byteOffset, w * h * 4), width: w, height: h }
  }
  const out = new Uint8Array(w * h * 4)
  for (let i = 0; i < w * h; i++) {
    out[i * 4] = t.bytes[i * 3]
    out[i * 4 + 1] = t.bytes[i * 3 + 1]
    out[i * 4 + 2] = t.bytes[i * 3 + 2]
    out[i * 4 + 3] = 255
  }
  return { data: out, width: w, height: h }
}

/** An associated image from a LABEL/OVERVIEW/THUMBNAIL instance: one JPEG frame passes through, otherwise PNG. */
function associatedFrom(inst: Instance): AssociatedImage {
  return {
    width: inst.width,
    height: inst.height,
    async read() {
      const single = inst.frames === 1 && inst.tileWidth === inst.width && inst.tileHeight === inst.height
      if (single) {
        const t = await encodedFrame(inst, 0)
        if (t.encoding === 'jpeg') return { bytes: t.bytes, mediaType: 'image/jpeg' as const }
      }
      const lt = levelTiles([inst], inst.width, inst.height)
      const slide = new DicomSlide([lt], new Map(), [])
      const px = await slide.readRegion(0, 0, 0, inst.width, inst.height)
      const png = await sharp(px.data, { raw: { width: px.width, height: px.height, channels: 4 } }).png().toBuffer()
      return { bytes: new Uint8Array(png.buffer, png.byteOffset, png.byteLength), mediaType: 'image/png' as const }
    },
  }
}

/**
 * Opens a DICOM WSI from its instances (one source per instance, any order): VOLUME instances become
 * levels sorted by TotalPixelMatrixColumns (largest first), concatenation parts of a level are joined,
 * LABEL/OVERVIEW/THUMBNAIL become associated images. Every source is closed by `slide.close()`, or here on failure.
 */
export async function openDicomSlide(sources: readonly ByteSource[]): Promise<Slide> {
  try {
    if (sources.length === 0) throw DicomWsiErrors.notWsi('no instances were given')
    const instances = await Promise.all(sources.map((s) => Instance.open(s)))
    // A slide is one series in one frame of reference; mixing two slides would interleave their pyramids.
    const series = new Set(instances.map((i) => getString(i.ds, T.SeriesInstanceUID) ?? ''))
    if (series.size > 1) throw DicomWsiErrors.mixedSlides(`${series.size} Series Instance UIDs`)
    const frames = new Set(instances.map((i) => getString(i.ds, T.FrameOfReferenceUID)).filter((v): v is string => !!v))
    if (frames.size > 1) throw DicomWsiErrors.mixedSlides(`${frames.size} Frame of Reference UIDs`)
    const volumes = instances.filter((i) => i.flavor === 'VOLUME')
    if (volumes.length === 0) throw DicomWsiErrors.notWsi('no VOLUME instance, only label/overview/thumbnail images')
    const byMatrix = new Map<string, Instance[]>()
    for (const v of volumes) {
      const k = `${v.width}x${v.height}`
      byMatrix.set(k, [...(byMatrix.get(k) ?? []), v])
    }
    const groups = [...byMatrix.values()].sort((a, b) => b[0].width - a[0].width)
    const w0 = groups[0][0].width
    const h0 = groups[0][0].height
    const tiles = groups.map((g) => levelTiles(g, w0, h0))
    for (let i = 1; i < tiles.length; i++)
      if (!(tiles[i].level.downsample > tiles[i - 1].level.downsample)) throw WsiErrors.malformed(`pyramid level ${i} is not smaller than level ${i - 1}`)
    const associated = new Map<AssociatedName, AssociatedImage>()
    const names: Record<Exclude<ImageFlavor, 'VOLUME'>, AssociatedName> = { LABEL: 'label', OVERVIEW: 'macro', THUMBNAIL: 'thumbnail' }
    for (const inst of instances) {
      if (inst.flavor === 'VOLUME') continue
      const name = names[inst.flavor]
      if (!associated.has(name)) associated.set(name, associatedFrom(inst))
    }
    return new DicomSlide(tiles, associated, sources)
  } catch (e) {
    await Promise.all(sources.map((s) => s.close().catch(() => {})))
    throw e
  }
}

/** The registry entry: a single Part 10 file opens as a one-instance slide (the levels of other instances need openDicomSlide). */
export const dicomWsi: SlideFormat = {
  name: 'dicom-wsi',
  async detect(src, tiff) {
    if (tiff) return { ok: false, reason: 'a TIFF, not DICOM' }
    if (src.size < 132) return { ok: false, reason: 'too short for a DICOM preamble' }
    const b = await src.read(128, 4)
    return String.fromCharCode(...b) === 'DICM' ? { ok: true } : { ok: false, reason: 'no "DICM" at byte 128' }
  },
  async open(src) {
    return openDicomSlide([src])
  },
}
