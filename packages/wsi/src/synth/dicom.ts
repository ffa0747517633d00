/**
 * @module Synthetic DICOM WSI (VL Whole Slide Microscopy Image, TILED_FULL or TILED_SPARSE): one instance per level
 * with JPEG baseline frames (one fragment each, Basic Offset Table filled), plus a LABEL instance showing
 * fake identifiers. Tiles are rendered and written one at a time, so a 100k × 100k slide never sits in memory.
 */
import { open, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import sharp from 'sharp'
import { writeDicom, type WriteElement } from '@kura/dicom'
import { VL_WHOLE_SLIDE_MICROSCOPY_IMAGE_STORAGE } from '../formats/dicom-wsi.ts'

export interface DicomSlideOptions {
  width: number
  height: number
  /** Frame (tile) size in pixels; 256 by default. */
  tileSize?: number
  /** JPEG quality 1–100; 80 by default. */
  quality?: number
  /** Decides the tissue layout and the UIDs; same seed, same files. */
  seed?: number
  /** Directory to write level-<n>.dcm and label.dcm into (created if missing). */
  out: string
  /** Text printed on the label (fake identifiers); a made-up patient by default. */
  label?: string
  /** Microns per pixel at level 0; 0.25 (a 40× scan) by default. */
  mpp?: number
  /**
   * TILED_SPARSE instead of TILED_FULL: every frame carries its position in a per-frame functional group and
   * frames are stored in reverse order, so a reader that ignores the positions shows the wrong tiles.
   */
  sparse?: boolean
  /** Tiles left out (TILED_SPARSE only), as a scanner skips empty glass: return true to omit (level, col, row). */
  omitTile?: (level: number, col: number, row: number) => boolean
  /** At most this many levels (1: full resolution only, as some converters write); default down to one tile. */
  maxLevels?: number
}

export interface DicomSlideResult {
  /** Paths of the instances written: levels first (full resolution first), then the label. */
  files: string[]
  levels: { width: number; height: number; frames: number }[]
}

const JPEG_BASELINE = '1.2.840.10008.1.2.4.50'
const MAX_SIDE = 200_000
/** Frames in flight while writing: enough to keep sharp's encoder threads busy, few enough to stay small. */
const LOOKAHEAD = 4

const FAMILY = ['YAMAMOTO', 'NAKAMURA', 'KOBAYASHI', 'WATANABE', 'MATSUMOTO', 'INOUE', 'KIMURA', 'HAYASHI']
const GIVEN = ['HARUKA', 'KENTARO', 'MISAKI', 'SHOTA', 'YUMIKO', 'DAISUKE', 'AYANO', 'TAKUMI']

/** A UID under the UUID-derived root 2.25 (PS3.5 B.2), made from the seed so outputs are reproducible. */
function uid(seed: number, n: number): string {
  const a = BigInt(hash(seed, n, 0x51)) << 64n
  const b = BigInt(hash(seed, n, 0x52)) << 32n
  return `2.25.${(a | b | BigInt(hash(seed, n, 0x53))).toString()}`
}

/** 32-bit integer hash (a mix of the lowbias32 finaliser), deterministic across platforms. */
function hash(a: number, b: number, c: number): number {
  let h = (Math.imul(a | 0, 0x27d4eb2d) ^ Math.imul(b | 0, 0x165667b1) ^ Math.imul(c | 0, 0x9e3779b1)) >>> 0
  h ^= h >>> 16
  h = Math.imul(h, 0x7feb352d)
  h ^= h >>> 15
  h = Math.imul(h, 0x846ca68b)
  h ^= h >>> 16
  return h >>> 0
}

/**
 * RGB of a stained-tissue-like pattern at level-0 point (x, y): glass outside an elliptical section, pink
 * stroma inside, purple nuclei in a jittered 40-px grid. Lower levels sample the same function, so every
 * level shows the same slide.
 */
function renderTile(seed: number, w: number, h: number, x0: number, y0: number, step: number, W: number, H: number): Uint8Array {
  const out = new Uint8Array(w * h * 3)
  const cx = W / 2
  const cy = H / 2
  const rx = W * 0.42
  const ry = H * 0.4
  const CELL = 40
  // The smooth terms are separable: compute them once per column and per row, not per pixel.
  const colShade = new Float32Array(w)
  const colWobble = new Float32Array(w)
  for (let i = 0; i < w; i++) {
    const x = (x0 + i) * step
    colShade[i] = Math.sin(x / 150 + seed)
    colWobble[i] = 0.08 * Math.sin(x / 900 + seed)
  }
  for (let j = 0; j < h; j++) {
    const y = (y0 + j) * step
    const rowShade = 12 * Math.sin(y / 170)
    const rowWobble = Math.cos(y / 700)
    const dy = (y - cy) / ry
    const gy = Math.floor(y / CELL)
    for (let i = 0; i < w; i++) {
      const x = (x0 + i) * step
      let r = 242
      let g = 240
      let b = 244
      const dx = (x - cx) / rx
      if (x < W && y < H && dx * dx + dy * dy < 1 + colWobble[i] * rowWobble) {
        const shade = colShade[i] * rowShade
        r = 232 + shade
        g = 168 + shade
        b = 200 + shade / 2
        const gx = Math.floor(x / CELL)
        const hv = hash(seed, gx, gy)
        const nx = gx * CELL + 8 + ((hv & 0xff) % 24)
        const ny = gy * CELL + 8 + (((hv >>> 8) & 0xff) % 24)
        const rad = 5 + ((hv >>> 16) & 7)
        const ex = x - nx
        const ey = y - ny
        if (ex * ex + ey * ey < rad * rad) {
          r = 110 + ((hv >>> 24) & 31)
          g = 60
          b = 150
        }
      }
      const o = (j * w + i) * 3
      out[o] = r
      out[o + 1] = g
      out[o + 2] = b
    }
  }
  return out
}

function le16(v: number): number[] {
  return [v & 0xff, v >>> 8]
}

/** Pixel Data (7FE0,0010) OB with undefined length, then the Basic Offset Table item header (PS3.5 A.4). */
function pixelDataHead(frames: number): Uint8Array {
  const b = new Uint8Array(20)
  const dv = new DataView(b.buffer)
  b.set([...le16(0x7fe0), ...le16(0x0010), 0x4f, 0x42, 0, 0])
  dv.setUint32(8, 0xffffffff, true)
  dv.setUint16(12, 0xfffe, true)
  dv.setUint16(14, 0xe000, true)
  dv.setUint32(16, frames * 4, true)
  return b
}

function itemHeader(tag: number, len: number): Uint8Array {
  const b = new Uint8Array(8)
  const dv = new DataView(b.buffer)
  dv.setUint16(0, tag >>> 16, true)
  dv.setUint16(2, tag & 0xffff, true)
  dv.setUint32(4, len, true)
  return b
}

const code = (value: string, scheme: string, meaning: string): WriteElement[] => [
  { tag: 0x00080100, vr: 'SH', value },
  { tag: 0x00080102, vr: 'SH', value: scheme },
  { tag: 0x00080104, vr: 'LO', value: meaning },
]

interface Common {
  seed: number
  studyUid: string
  seriesUid: string
  forUid: string
  patientName: string
  patientId: string
  accession: string
  containerId: string
  mpp: number
  W: number
  H: number
  icc: Uint8Array
}

/** The header elements of one instance (everything but Pixel Data), per PS3.3 A.32.8 and its modules. */
function header(c: Common, p: {
  instance: number
  flavor: 'VOLUME' | 'LABEL'
  width: number
  height: number
  tile: number
  frames: number
  spacingMm: number
  ratio: number
  labelText?: string
  /** TILED_SPARSE: the (col, row) of each frame, in stored order; absent for TILED_FULL. */
  positions?: readonly (readonly [number, number])[]
}): WriteElement[] {
  const sop = uid(c.seed, 1000 + p.instance)
  const date = '20240401'
  const time = '093000'
  const imagedW = (c.W * c.mpp) / 1000
  const imagedH = (c.H * c.mpp) / 1000
  return [
    { tag: 0x00080005, vr: 'CS', value: 'ISO_IR 192' },
    { tag: 0x00080008, vr: 'CS', value: ['ORIGINAL', 'PRIMARY', p.flavor, 'NONE'] },
    { tag: 0x00080016, vr: 'UI', value: VL_WHOLE_SLIDE_MICROSCOPY_IMAGE_STORAGE },
    { tag: 0x00080018, vr: 'UI', value: sop },
    { tag: 0x00080020, vr: 'DA', value: date },
    { tag: 0x00080023, vr: 'DA', value: date },
    { tag: 0x0008002a, vr: 'DT', value: `${date}${time}` },
    { tag: 0x00080030, vr: 'TM', value: time },
    { tag: 0x00080033, vr: 'TM', value: time },
    { tag: 0x00080050, vr: 'SH', value: c.accession },
    { tag: 0x00080060, vr: 'CS', value: 'SM' },
    { tag: 0x00080070, vr: 'LO', value: 'Kura Synthetic' },
    { tag: 0x00080090, vr: 'PN', value: '' },
    { tag: 0x00081090, vr: 'LO', value: 'kura synth slide' },
    { tag: 0x00089206, vr: 'CS', value: 'VOLUME' },
    { tag: 0x00100010, vr: 'PN', value: c.patientName },
    { tag: 0x00100020, vr: 'LO', value: c.patientId },
    { tag: 0x00100030, vr: 'DA', value: '19600101' },
    { tag: 0x00100040, vr: 'CS', value: 'O' },
    { tag: 0x00181000, vr: 'LO', value: 'SYNTH-0001' },
    { tag: 0x00181020, vr: 'LO', value: '0.1' },
    { tag: 0x0020000d, vr: 'UI', value: c.studyUid },
    { tag: 0x0020000e, vr: 'UI', value: c.seriesUid },
    { tag: 0x00200010, vr: 'SH', value: '1' },
    { tag: 0x00200011, vr: 'IS', value: '1' },
    { tag: 0x00200013, vr: 'IS', value: String(p.instance) },
    { tag: 0x00200052, vr: 'UI', value: c.forUid },
    { tag: 0x00201040, vr: 'LO', value: '' },
    { tag: 0x00209221, vr: 'SQ', value: [[{ tag: 0x00209164, vr: 'UI', value: uid(c.seed, 7) }]] },
    ...(p.positions ? sparseDimensions(c, p.tile, p.spacingMm, p.positions) : []),
    { tag: 0x00209311, vr: 'CS', value: p.positions ? 'TILED_SPARSE' : 'TILED_FULL' },
    { tag: 0x00280002, vr: 'US', value: 3 },
    { tag: 0x00280004, vr: 'CS', value: 'YBR_FULL_422' },
    { tag: 0x00280006, vr: 'US', value: 0 },
    { tag: 0x00280008, vr: 'IS', value: String(p.frames) },
    { tag: 0x00280010, vr: 'US', value: p.tile },
    { tag: 0x00280011, vr: 'US', value: p.tile },
    { tag: 0x00280100, vr: 'US', value: 8 },
    { tag: 0x00280101, vr: 'US', value: 8 },
    { tag: 0x00280102, vr: 'US', value: 7 },
    { tag: 0x00280103, vr: 'US', value: 0 },
    { tag: 0x00282110, vr: 'CS', value: '01' },
    { tag: 0x00282112, vr: 'DS', value: p.ratio.toFixed(2) },
    { tag: 0x00282114, vr: 'CS', value: 'ISO_10918_1' },
    { tag: 0x00280301, vr: 'CS', value: p.flavor === 'LABEL' ? 'YES' : 'NO' },
    { tag: 0x00400512, vr: 'LO', value: c.containerId },
    { tag: 0x00400513, vr: 'SQ', value: [] },
    { tag: 0x00400518, vr: 'SQ', value: [code('433466003', 'SCT', 'Microscope slide')] },
    { tag: 0x00400555, vr: 'SQ', value: [] },
    {
      tag: 0x00400560,
      vr: 'SQ',
      value: [[
        { tag: 0x00400551, vr: 'LO', value: c.containerId },
        { tag: 0x00400554, vr: 'UI', value: uid(c.seed, 8) },
        { tag: 0x00400562, vr: 'SQ', value: [] },
        { tag: 0x00400610, vr: 'SQ', value: [] },
      ]],
    },
    { tag: 0x00480001, vr: 'FL', value: imagedW },
    { tag: 0x00480002, vr: 'FL', value: imagedH },
    { tag: 0x00480003, vr: 'FL', value: 0.004 },
    { tag: 0x00480006, vr: 'UL', value: p.width },
    { tag: 0x00480007, vr: 'UL', value: p.height },
    {
      tag: 0x00480008,
      vr: 'SQ',
      value: [[{ tag: 0x0040072a, vr: 'DS', value: '20' }, { tag: 0x0040073a, vr: 'DS', value: '40' }]],
    },
    { tag: 0x00480010, vr: 'CS', value: p.flavor === 'LABEL' ? 'YES' : 'NO' },
    { tag: 0x00480011, vr: 'CS', value: 'AUTO' },
    { tag: 0x00480012, vr: 'CS', value: 'NO' },
    { tag: 0x00480102, vr: 'DS', value: ['0', '-1', '0', '-1', '0', '0'] },
    {
      tag: 0x00480105,
      vr: 'SQ',
      value: [[
        { tag: 0x00220016, vr: 'SQ', value: [code('111744', 'DCM', 'Brightfield illumination')] },
        { tag: 0x00282000, vr: 'OB', value: c.icc },
        { tag: 0x00480106, vr: 'SH', value: '1' },
        { tag: 0x00480108, vr: 'SQ', value: [code('414298005', 'SCT', 'Full Spectrum')] },
        { tag: 0x00480112, vr: 'DS', value: String(Math.round(10 / c.mpp)) },
      ]],
    },
    { tag: 0x00480302, vr: 'UL', value: 1 },
    { tag: 0x00480303, vr: 'UL', value: 1 },
    {
      tag: 0x52009229,
      vr: 'SQ',
      value: [[
        {
          tag: 0x00289110,
          vr: 'SQ',
          value: [[
            { tag: 0x00180050, vr: 'DS', value: '0.004' },
            { tag: 0x00280030, vr: 'DS', value: [p.spacingMm.toPrecision(10), p.spacingMm.toPrecision(10)] },
          ]],
        },
        { tag: 0x00400710, vr: 'SQ', value: [[{ tag: 0x00089007, vr: 'CS', value: ['ORIGINAL', 'PRIMARY', p.flavor, 'NONE'] }]] },
        { tag: 0x00480207, vr: 'SQ', value: [[{ tag: 0x00480106, vr: 'SH', value: '1' }]] },
      ]],
    },
    // Slide Label module (PS3.3 C.8.12.8), in LABEL instances only: what the label shows, as text.
    ...(p.flavor === 'LABEL'
      ? [
          { tag: 0x22000002, vr: 'UT', value: p.labelText ?? '' } as WriteElement,
          { tag: 0x22000005, vr: 'LT', value: c.containerId } as WriteElement,
        ]
      : []),
  ]
}

/**
 * The Multi-frame Dimension index (column, row positions) and the per-frame Plane Position (Slide) items that
 * TILED_SPARSE needs (PS3.3 C.8.12.4.1.3, C.8.12.6.1): positions are 1-based pixels of each frame's top-left.
 */
function sparseDimensions(c: Common, tile: number, spacingMm: number, positions: readonly (readonly [number, number])[]): WriteElement[] {
  const org = uid(c.seed, 7)
  const index = (pointer: number): WriteElement[] => [
    { tag: 0x00209164, vr: 'UI', value: org },
    { tag: 0x00209165, vr: 'AT', value: pointer },
    { tag: 0x00209167, vr: 'AT', value: 0x0048021a },
  ]
  return [
    { tag: 0x00209222, vr: 'SQ', value: [index(0x0048021e), index(0x0048021f)] },
    {
      tag: 0x52009230,
      vr: 'SQ',
      value: positions.map(([col, row]): WriteElement[] => [
        { tag: 0x00209111, vr: 'SQ', value: [[{ tag: 0x00209157, vr: 'UL', value: [col + 1, row + 1] }]] },
        {
          tag: 0x0048021a,
          vr: 'SQ',
          value: [[
            // Slide coordinates (mm) follow ImageOrientationSlide 0\-1\0\-1\0\0 from the origin at (20, 40).
            { tag: 0x0040072a, vr: 'DS', value: (20 - row * tile * spacingMm).toFixed(6) },
            { tag: 0x0040073a, vr: 'DS', value: (40 - col * tile * spacingMm).toFixed(6) },
            { tag: 0x0040074a, vr: 'DS', value: '0' },
            { tag: 0x0048021e, vr: 'SL', value: col * tile + 1 },
            { tag: 0x0048021f, vr: 'SL', value: row * tile + 1 },
          ]],
        },
      ]),
    },
  ]
}

/** Writes one instance: the header, then frames one at a time, then the Basic Offset Table back into its place. */
async function writeInstance(path: string, head: WriteElement[], frames: number, frame: (i: number) => Promise<Uint8Array>): Promise<void> {
  const fh = await open(path, 'w')
  try {
    const meta = writeDicom({ dataset: head }, { transferSyntaxUID: JPEG_BASELINE })
    let pos = 0
    const put = async (b: Uint8Array) => {
      await fh.write(b, 0, b.length, pos)
      pos += b.length
    }
    await put(meta)
    await put(pixelDataHead(frames))
    const botAt = pos
    pos += frames * 4
    const firstItem = pos
    const table = new Uint8Array(frames * 4)
    const tv = new DataView(table.buffer)
    // Render and encode a few frames ahead (sharp encodes off the main thread) while writing strictly in order.
    const ahead: Promise<Uint8Array>[] = []
    const start = (i: number) => {
      const p = frame(i)
      p.catch(() => {}) // awaited in order below; this only keeps an early failure from being "unhandled"
      ahead.push(p)
    }
    for (let i = 0; i < Math.min(LOOKAHEAD, frames); i++) start(i)
    for (let i = 0; i < frames; i++) {
      const rel = pos - firstItem
      // The Basic Offset Table is 32-bit (PS3.5 A.4): past 4 GiB an instance needs an Extended Offset Table instead.
      if (rel > 0xffffffff) throw new Error(`level instance ${path} passes 4 GiB; use a larger tile size or lower quality`)
      tv.setUint32(i * 4, rel, true)
      const f = await ahead.shift()!
      if (i + LOOKAHEAD < frames) start(i + LOOKAHEAD)
      const odd = f.length & 1
      await put(itemHeader(0xfffee000, f.length + odd))
      await put(f)
      if (odd) await put(new Uint8Array(1))
    }
    await put(itemHeader(0xfffee0dd, 0))
    await fh.write(table, 0, table.length, botAt)
  } finally {
    await fh.close()
  }
}

/** Writes a synthetic DICOM WSI into `out`: level-0.dcm … level-N.dcm (TILED_FULL, or TILED_SPARSE) and label.dcm. */
export async function writeDicomSlide(o: DicomSlideOptions): Promise<DicomSlideResult> {
  const { width: W, height: H } = o
  const tile = o.tileSize ?? 256
  const quality = o.quality ?? 80
  const seed = o.seed ?? 1
  const mpp = o.mpp ?? 0.25
  if (!(Number.isInteger(W) && Number.isInteger(H) && W > 0 && H > 0 && W <= MAX_SIDE && H <= MAX_SIDE))
    throw new RangeError(`slide size ${W}×${H} must be whole pixels between 1 and ${MAX_SIDE}`)
  if (!(Number.isInteger(tile) && tile >= 16 && tile <= 4096 && tile % 8 === 0)) throw new RangeError(`tile size ${tile} must be a multiple of 8 between 16 and 4096`)
  await mkdir(o.out, { recursive: true })
  const icc = await srgbProfile()
  const c: Common = {
    seed,
    studyUid: uid(seed, 1),
    seriesUid: uid(seed, 2),
    forUid: uid(seed, 3),
    // A made-up person: no part of the name may occur in other attributes (Manufacturer "Kura Synthetic"), or a
    // de-identification verifier rightly flags the manufacturer as the patient's name.
    patientName: `${FAMILY[hash(seed, 7, 7) % FAMILY.length]}^${GIVEN[hash(seed, 8, 8) % GIVEN.length]}`,
    patientId: `SYN-${String(hash(seed, 4, 4) % 1_000_000).padStart(6, '0')}`,
    accession: `ACC${String(hash(seed, 5, 5) % 1_000_000).padStart(6, '0')}`,
    containerId: `S24-${String(hash(seed, 6, 6) % 100_000).padStart(5, '0')}`,
    mpp,
    W,
    H,
    icc,
  }
  const files: string[] = []
  const levels: DicomSlideResult['levels'] = []
  // Halve until the level fits in one tile, as vips --pyramid does.
  for (let k = 0; ; k++) {
    const step = 2 ** k
    const w = Math.max(1, Math.ceil(W / step))
    const h = Math.max(1, Math.ceil(H / step))
    const across = Math.ceil(w / tile)
    const down = Math.ceil(h / tile)
    let positions: [number, number][] | undefined
    if (o.sparse) {
      positions = []
      for (let i = across * down - 1; i >= 0; i--) {
        const col = i % across
        const row = Math.floor(i / across)
        if (!o.omitTile?.(k, col, row)) positions.push([col, row])
      }
    }
    const frames = positions ? positions.length : across * down
    if (frames === 0) throw new RangeError(`omitTile left level ${k} without tiles`)
    const path = join(o.out, `level-${k}.dcm`)
    const head = header(c, { instance: k + 1, flavor: 'VOLUME', width: w, height: h, tile, frames, spacingMm: (mpp * step) / 1000, ratio: 10, positions })
    await writeInstance(path, head, frames, async (i) => {
      const col = positions ? positions[i][0] : i % across
      const row = positions ? positions[i][1] : Math.floor(i / across)
      // Frames are full size (PS3.3 C.8.12.4.1.1); outside the matrix the renderer paints glass.
      const rgb = renderTile(seed, tile, tile, col * tile, row * tile, step, W, H)
      const jpg = await sharp(rgb, { raw: { width: tile, height: tile, channels: 3 } }).jpeg({ quality, chromaSubsampling: '4:2:0' }).toBuffer()
      return new Uint8Array(jpg.buffer, jpg.byteOffset, jpg.byteLength)
    })
    files.push(path)
    levels.push({ width: w, height: h, frames })
    if ((w <= tile && h <= tile) || levels.length === o.maxLevels) break
  }
  files.push(await writeLabel(c, o.out, o.label ?? `${c.patientName.replace('^', ' ')}\nID ${c.patientId}\n${c.containerId}`, levels.length + 1))
  return { files, levels }
}

/** The slide label (PS3.3 C.8.12.4: ImageType LABEL) as one JPEG frame: fake identifiers in black on white. */
async function writeLabel(c: Common, dir: string, text: string, instance: number): Promise<string> {
  const w = 400
  const h = 400
  const lines = text.split('\n').map((t, i) => `<text x="20" y="${60 + i * 50}" font-family="sans-serif" font-size="36">${escapeXml(t)}</text>`)
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><rect width="100%" height="100%" fill="white"/>${lines.join('')}<rect x="20" y="300" width="360" height="60" fill="black"/></svg>`
  const jpg = await sharp(Buffer.from(svg)).flatten({ background: '#ffffff' }).jpeg({ quality: 90, chromaSubsampling: '4:2:0' }).toBuffer()
  const path = join(dir, 'label.dcm')
  const head = header(c, { instance, flavor: 'LABEL', width: w, height: h, tile: w, frames: 1, spacingMm: 0.02, ratio: 10, labelText: text })
  await writeInstance(path, head, 1, async () => new Uint8Array(jpg.buffer, jpg.byteOffset, jpg.byteLength))
  return path
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (ch) => `&#${ch.charCodeAt(0)};`)
}

/** libvips' built-in sRGB profile, for the Optical Path's ICC Profile (Type 1C for colour images). */
async function srgbProfile(): Promise<Uint8Array> {
  const jpg = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#ffffff' } }).withIccProfile('srgb').jpeg().toBuffer()
  const icc = (await sharp(jpg).metadata()).icc
  if (!icc) throw new Error('sharp did not embed an sRGB profile')
  return new Uint8Array(icc.buffer, icc.byteOffset, icc.byteLength)
}
