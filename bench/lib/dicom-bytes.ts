/**
 * @module A deliberately tiny DICOM Part 10 encoder (explicit VR little endian only) for the
 * benchmarks: the fallback corpus when `@kura/dicom/synth` is unavailable, the in-memory instances
 * used to scale a catalog, and the header of the 2 GB multi-frame object (whose Pixel Data is
 * then streamed to disk).
 *
 * It is independent of the project's writer on purpose: a benchmark input must not change when
 * the code under test changes.
 */

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV'])

export type Value = string | string[] | number | number[] | Buffer

/** One element: tag as 0xGGGGEEEE. */
export function el(tag: number, vr: string, value: Value): Buffer {
  let v: Buffer
  if (Buffer.isBuffer(value)) v = value
  else if (vr === 'US' || vr === 'SS') {
    const arr = Array.isArray(value) ? (value as number[]) : [value as number]
    v = Buffer.alloc(arr.length * 2)
    arr.forEach((n, i) => (vr === 'US' ? v.writeUInt16LE(n, i * 2) : v.writeInt16LE(n, i * 2)))
  } else if (vr === 'UL' || vr === 'SL') {
    const arr = Array.isArray(value) ? (value as number[]) : [value as number]
    v = Buffer.alloc(arr.length * 4)
    arr.forEach((n, i) => (vr === 'UL' ? v.writeUInt32LE(n, i * 4) : v.writeInt32LE(n, i * 4)))
  } else {
    const s = Array.isArray(value) ? value.map(String).join('\\') : String(value)
    v = Buffer.from(s, 'utf8')
    if (v.length % 2) v = Buffer.concat([v, Buffer.from(vr === 'UI' ? [0] : [0x20])])
  }
  return Buffer.concat([elHeader(tag, vr, v.length), v])
}

/** The header of an element (for values written separately, e.g. streamed Pixel Data). */
export function elHeader(tag: number, vr: string, length: number): Buffer {
  const long = LONG_VRS.has(vr)
  const h = Buffer.alloc(long ? 12 : 8)
  h.writeUInt16LE(tag >>> 16, 0)
  h.writeUInt16LE(tag & 0xffff, 2)
  h.write(vr, 4, 'latin1')
  if (long) h.writeUInt32LE(length >>> 0, 8)
  else {
    if (length > 0xffff) throw new RangeError(`value of ${tag.toString(16)} too long for ${vr}`)
    h.writeUInt16LE(length, 6)
  }
  return h
}

export const EXPLICIT_LE = '1.2.840.10008.1.2.1'
export const CT_IMAGE = '1.2.840.10008.5.1.4.1.1.2'
export const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7'
/** Multi-frame Grayscale Word Secondary Capture. */
export const MF_GRAY_WORD_SC = '1.2.840.10008.5.1.4.1.1.7.3'
const IMPL_UID = '1.2.826.0.1.3680043.10.1234.1'

/** Preamble, "DICM" and the File Meta Information group (with its group length). */
export function fileMeta(sopClassUid: string, sopInstanceUid: string, transferSyntax = EXPLICIT_LE): Buffer {
  const body = Buffer.concat([
    el(0x00020001, 'OB', Buffer.from([0, 1])),
    el(0x00020002, 'UI', sopClassUid),
    el(0x00020003, 'UI', sopInstanceUid),
    el(0x00020010, 'UI', transferSyntax),
    el(0x00020012, 'UI', IMPL_UID),
    el(0x00020013, 'SH', 'KURA_BENCH'),
  ])
  const preamble = Buffer.alloc(132)
  preamble.write('DICM', 128, 'latin1')
  return Buffer.concat([preamble, el(0x00020000, 'UL', body.length), body])
}

// ---------------------------------------------------------------------------------------------
// Fallback synthetic corpus: CT-like instances with distinct UIDs and varied searchable attributes.

const FAMILY = ['SATO', 'SUZUKI', 'TAKAHASHI', 'TANAKA', 'WATANABE', 'ITO', 'YAMAMOTO', 'NAKAMURA', 'KOBAYASHI', 'KATO', 'YOSHIDA', 'YAMADA', 'SASAKI', 'YAMAGUCHI', 'MATSUMOTO', 'INOUE', 'KIMURA', 'HAYASHI', 'SHIMIZU', 'YAMAZAKI']
const GIVEN = ['HARUTO', 'SOTA', 'YUTO', 'MINATO', 'REN', 'HINA', 'YUI', 'MEI', 'AOI', 'RIN', 'TARO', 'HANAKO', 'KENJI', 'YUKI', 'AKIRA']
const DESCRIPTIONS = ['CT CHEST', 'CT ABDOMEN', 'CT HEAD', 'CT PELVIS', 'CT CHEST ABDOMEN PELVIS']

export interface FallbackPlan {
  seed: number
  study: number
  series: number
  instance: number
  rows: number
  cols: number
}

export const uidRoot = (seed: number) => `1.2.826.0.1.3680043.10.1234.${seed}`
export const studyUid = (seed: number, st: number) => `${uidRoot(seed)}.${st + 1}`
export const seriesUid = (seed: number, st: number, se: number) => `${uidRoot(seed)}.${st + 1}.${se + 1}`
export const sopUid = (seed: number, st: number, se: number, i: number) => `${uidRoot(seed)}.${st + 1}.${se + 1}.${i + 1}`

function hash(...n: number[]): number {
  let h = 2166136261
  for (const x of n) {
    h ^= x
    h = Math.imul(h, 16777619) >>> 0
    h ^= h >>> 13
  }
  return h >>> 0
}

export function patientOf(seed: number, study: number) {
  // Every fourth study is a follow-up of the previous patient.
  const p = study % 4 === 3 ? study - 1 : study
  const h = hash(seed, p)
  return {
    patientId: `BENCH${seed}-${String(p).padStart(7, '0')}`,
    patientName: `${FAMILY[h % FAMILY.length]}^${GIVEN[(h >>> 8) % GIVEN.length]}`,
    birthDate: `19${String(30 + (h % 60)).padStart(2, '0')}0${1 + ((h >>> 4) % 9)}1${(h >>> 6) % 9}`,
    sex: h & 1 ? 'M' : 'F',
  }
}

export function studyDateOf(seed: number, study: number): string {
  const d = new Date(Date.UTC(2015, 0, 1) + (hash(seed, study, 7) % 3650) * 86_400_000)
  return `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`
}

const pixelCache = new Map<string, Buffer>()
function pixelsFor(rows: number, cols: number, variant: number): Buffer {
  const key = `${rows}x${cols}:${variant % 8}`
  let b = pixelCache.get(key)
  if (!b) {
    b = Buffer.alloc(rows * cols * 2)
    for (let y = 0; y < rows; y++) for (let x = 0; x < cols; x++) {
      const dx = x - cols / 2, dy = y - rows / 2
      const r = Math.sqrt(dx * dx + dy * dy)
      b.writeUInt16LE(r < Math.min(rows, cols) * 0.45 ? 1000 + ((x * 7 + y * 3 + variant * 11) % 200) : 0, (y * cols + x) * 2)
    }
    pixelCache.set(key, b)
  }
  return b
}

/** One CT instance of the fallback corpus as Part 10 bytes. */
export function fallbackInstance(p: FallbackPlan): Buffer {
  const { seed, study: st, series: se, instance: i, rows, cols } = p
  const pat = patientOf(seed, st)
  const sop = sopUid(seed, st, se, i)
  const date = studyDateOf(seed, st)
  const ds = [
    el(0x00080005, 'CS', 'ISO_IR 192'),
    el(0x00080008, 'CS', ['ORIGINAL', 'PRIMARY', 'AXIAL']),
    el(0x00080016, 'UI', CT_IMAGE),
    el(0x00080018, 'UI', sop),
    el(0x00080020, 'DA', date),
    el(0x00080021, 'DA', date),
    el(0x00080030, 'TM', '093000'),
    el(0x00080031, 'TM', `09${String(30 + se).padStart(2, '0')}00`),
    el(0x00080050, 'SH', `ACC${seed}${String(st).padStart(7, '0')}`),
    el(0x00080060, 'CS', 'CT'),
    el(0x00080070, 'LO', 'KURA BENCH'),
    el(0x00080080, 'LO', 'KURA GENERAL HOSPITAL'),
    el(0x00080090, 'PN', 'REFERRER^DOCTOR'),
    el(0x00081030, 'LO', DESCRIPTIONS[hash(seed, st, 3) % DESCRIPTIONS.length]),
    el(0x0008103e, 'LO', `SERIES ${se + 1}`),
    el(0x00100010, 'PN', pat.patientName),
    el(0x00100020, 'LO', pat.patientId),
    el(0x00100030, 'DA', pat.birthDate),
    el(0x00100040, 'CS', pat.sex),
    el(0x00180050, 'DS', '1.25'),
    el(0x0020000d, 'UI', studyUid(seed, st)),
    el(0x0020000e, 'UI', seriesUid(seed, st, se)),
    el(0x00200010, 'SH', String(st + 1)),
    el(0x00200011, 'IS', String(se + 1)),
    el(0x00200013, 'IS', String(i + 1)),
    el(0x00200032, 'DS', ['-250', '-250', String(-i * 1.25)]),
    el(0x00200037, 'DS', ['1', '0', '0', '0', '1', '0']),
    el(0x00200052, 'UI', `${studyUid(seed, st)}.0`),
    el(0x00201041, 'DS', String(-i * 1.25)),
    el(0x00280002, 'US', 1),
    el(0x00280004, 'CS', 'MONOCHROME2'),
    el(0x00280010, 'US', rows),
    el(0x00280011, 'US', cols),
    el(0x00280030, 'DS', ['0.7', '0.7']),
    el(0x00280100, 'US', 16),
    el(0x00280101, 'US', 12),
    el(0x00280102, 'US', 11),
    el(0x00280103, 'US', 0),
    el(0x00281050, 'DS', '40'),
    el(0x00281051, 'DS', '400'),
    el(0x00281052, 'DS', '-1024'),
    el(0x00281053, 'DS', '1'),
    el(0x7fe00010, 'OW', pixelsFor(rows, cols, i)),
  ]
  return Buffer.concat([fileMeta(CT_IMAGE, sop), ...ds])
}

// ---------------------------------------------------------------------------------------------
// The large multi-frame object: everything up to and including the Pixel Data element header.

export interface LargeObjectPlan {
  rows: number
  cols: number
  frames: number
  sopInstanceUid: string
  studyInstanceUid: string
  seriesInstanceUid: string
}

export function largeObjectPixelBytes(p: Pick<LargeObjectPlan, 'rows' | 'cols' | 'frames'>): number {
  return p.rows * p.cols * 2 * p.frames
}

export function largeObjectHeader(p: LargeObjectPlan): Buffer {
  const pixelBytes = largeObjectPixelBytes(p)
  if (pixelBytes >= 0xffffffff) throw new RangeError('Pixel Data must stay under 4 GiB (32-bit length)')
  const ds = [
    el(0x00080005, 'CS', 'ISO_IR 192'),
    el(0x00080008, 'CS', ['DERIVED', 'SECONDARY']),
    el(0x00080016, 'UI', MF_GRAY_WORD_SC),
    el(0x00080018, 'UI', p.sopInstanceUid),
    el(0x00080020, 'DA', '20240401'),
    el(0x00080030, 'TM', '120000'),
    el(0x00080050, 'SH', 'LARGE1'),
    el(0x00080060, 'CS', 'OT'),
    el(0x00080064, 'CS', 'WSD'),
    el(0x00081030, 'LO', 'LARGE MULTIFRAME'),
    el(0x00100010, 'PN', 'LARGE^OBJECT'),
    el(0x00100020, 'LO', 'LARGE-1'),
    el(0x00100030, 'DA', '19700101'),
    el(0x00100040, 'CS', 'O'),
    el(0x0020000d, 'UI', p.studyInstanceUid),
    el(0x0020000e, 'UI', p.seriesInstanceUid),
    el(0x00200010, 'SH', '1'),
    el(0x00200011, 'IS', '1'),
    el(0x00200013, 'IS', '1'),
    el(0x00280002, 'US', 1),
    el(0x00280004, 'CS', 'MONOCHROME2'),
    el(0x00280008, 'IS', String(p.frames)),
    el(0x00280009, 'AT', Buffer.from([0x18, 0x00, 0x63, 0x10])), // Frame Increment Pointer → (0018,1063) Frame Time
    el(0x00280010, 'US', p.rows),
    el(0x00280011, 'US', p.cols),
    el(0x00280100, 'US', 16),
    el(0x00280101, 'US', 16),
    el(0x00280102, 'US', 15),
    el(0x00280103, 'US', 0),
    elHeader(0x7fe00010, 'OW', pixelBytes),
  ]
  // (0018,1063) Frame Time must come in tag order: insert before (0020,000D).
  const frameTime = el(0x00181063, 'DS', '33.3')
  const i = ds.findIndex((b) => b.readUInt16LE(0) === 0x0020)
  ds.splice(i, 0, frameTime)
  return Buffer.concat([fileMeta(MF_GRAY_WORD_SC, p.sopInstanceUid), ...ds])
}
