/**
 * @module The synthetic corpus plan: which patients, studies, series and instances exist, and
 * each instance's element list (what the DICOM writer turns into a Part 10 file).
 *
 * Everything is a pure function of (options, indices), so an instance can be rebuilt alone,
 * in any order, in any process, and comes out identical.
 */
import type { PersonName, Vr } from '../types.ts'
import type { WriteElement } from '../writer.ts'
import { FAMILY_NAMES, INSTITUTIONS, type Sex, japaneseName, randomStaff, FEMALE_GIVEN_NAMES, MALE_GIVEN_NAMES } from './names.ts'
import { ctSlice, esFrame, mrSlice, type MrWeighting } from './pixels.ts'
import { Prng, synthUid } from './prng.ts'

export type SynthModality = 'CT' | 'MR' | 'ES'
/** `ir13` is ISO 2022 IR 13 + IR 87: half-width katakana alongside kanji. */
export type SynthCharset = 'ir87' | 'ir13' | 'ir192'

export interface ImageSize {
  rows: number
  columns: number
}

export interface SynthOptions {
  studies: number
  seriesPerStudy: number
  instancesPerSeries: number
  seed?: number
  /** One modality for every study, or `mixed`: CT, MR, ES in turn by study. */
  modality?: SynthModality | 'mixed'
  /**
   * `ir87`: `\ISO 2022 IR 87`, with every third patient in `ISO 2022 IR 13\ISO 2022 IR 87`
   * (half-width katakana phonetic names); `ir192`: UTF-8; `mixed`: all three in turn by patient.
   */
  charset?: 'ir87' | 'ir192' | 'mixed'
  /** Image sizes; defaults CT 512×512, MR 256×256, ES 480×640 (rows × columns). */
  sizes?: Partial<Record<SynthModality, ImageSize>>
  /**
   * Endoscopy pixel data: native RGB, baseline JPEG (encapsulated, what processors send), or
   * `mixed` (alternating by study). JPEG needs the async generator. Default `native`.
   */
  esPixels?: 'native' | 'jpeg' | 'mixed'
}

export const DEFAULT_SIZES: Readonly<Record<SynthModality, ImageSize>> = {
  CT: { rows: 512, columns: 512 },
  MR: { rows: 256, columns: 256 },
  ES: { rows: 480, columns: 640 },
}

export const SOP_CLASS = {
  CT: '1.2.840.10008.5.1.4.1.1.2',
  MR: '1.2.840.10008.5.1.4.1.1.4',
  ES: '1.2.840.10008.5.1.4.1.1.77.1.1',
} as const

export const TRANSFER_SYNTAX = {
  explicitLittle: '1.2.840.10008.1.2.1',
  jpegBaseline: '1.2.840.10008.1.2.4.50',
} as const

/** An element as the writer takes it: values as JavaScript values, text unencoded. */
export type SynthElement = WriteElement

export const SPECIFIC_CHARACTER_SET: Readonly<Record<SynthCharset, string[]>> = {
  ir87: ['', 'ISO 2022 IR 87'],
  ir13: ['ISO 2022 IR 13', 'ISO 2022 IR 87'],
  ir192: ['ISO_IR 192'],
}

export interface SynthPatient {
  index: number
  patientId: string
  name: PersonName
  birthDate: string
  sex: Sex
  charset: SynthCharset
  /** Kana written half-width (IR 13, and some UTF-8 systems). */
  halfWidthKana: boolean
  institution: (typeof INSTITUTIONS)[number]
  weightKg: number
  heightM: number
}

export interface SynthStudy {
  index: number
  patient: SynthPatient
  modality: SynthModality
  studyInstanceUid: string
  frameOfReferenceUid: string
  accessionNumber: string
  studyId: string
  date: string
  time: string
  description: string
  referringPhysician: PersonName
  operator: PersonName
  performingPhysician: PersonName
  equipment: { manufacturer: string; model: string; software: string }
  bodyPart: string
  esJpeg: boolean
}

export interface SynthPlanned {
  study: SynthStudy
  seriesIndex: number
  instanceIndex: number
  seriesInstanceUid: string
  sopInstanceUid: string
  /** `study/series/n.dcm`, zero-padded so a listing sorts in acquisition order. */
  path: string
  transferSyntaxUID: string
  /** Everything except Pixel Data, in ascending tag order. */
  elements: SynthElement[]
  /** Native pixel data (for ES with `esJpeg`, the RGB frame still to be compressed). */
  pixels: Uint8Array
  size: ImageSize
}

export function normalizeOptions(opts: SynthOptions): Required<Omit<SynthOptions, 'sizes'>> & { sizes: Record<SynthModality, ImageSize> } {
  for (const k of ['studies', 'seriesPerStudy', 'instancesPerSeries'] as const) {
    const n = opts[k]
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`${k} must be a whole number ≥ 0 (got ${n}).`)
  }
  const sizes = { ...DEFAULT_SIZES, ...opts.sizes }
  for (const [m, s] of Object.entries(sizes)) {
    if (!Number.isInteger(s.rows) || !Number.isInteger(s.columns) || s.rows < 8 || s.columns < 8 || s.rows > 8192 || s.columns > 8192) {
      throw new RangeError(`${m} image size must be whole numbers from 8 to 8192 (got ${s.rows}×${s.columns}).`)
    }
  }
  return {
    studies: opts.studies,
    seriesPerStudy: opts.seriesPerStudy,
    instancesPerSeries: opts.instancesPerSeries,
    seed: opts.seed ?? 1,
    modality: opts.modality ?? 'mixed',
    charset: opts.charset ?? 'mixed',
    esPixels: opts.esPixels ?? 'native',
    sizes,
  }
}

type Normalized = ReturnType<typeof normalizeOptions>

const pad = (n: number, width: number) => String(n).padStart(width, '0')
const ymd = (d: Date) => `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1, 2)}${pad(d.getUTCDate(), 2)}`
/** DS is at most 16 characters: keep a few decimals and drop trailing zeros. */
const ds = (x: number, decimals = 4) => String(Number(x.toFixed(decimals)))

/** Studies share a patient now and then (a follow-up), as in any real archive. */
function patientIndexOf(seed: number, study: number): number {
  let i = study
  while (i > 0 && Prng.for(seed, 'follow-up', i).chance(0.2)) i--
  return i
}

export function planPatient(o: Normalized, index: number): SynthPatient {
  const rng = Prng.for(o.seed, 'patient', index)
  const variant = index % 3
  const charset: SynthCharset =
    o.charset === 'ir192' ? 'ir192' : o.charset === 'ir87' ? (variant === 1 ? 'ir13' : 'ir87') : (['ir87', 'ir13', 'ir192'] as const)[variant]
  // UTF-8 systems sometimes keep half-width kana too; IR 13 always does.
  const halfWidthKana = charset === 'ir13' || (charset === 'ir192' && variant === 1)
  const sex: Sex = rng.chance(0.5) ? 'M' : 'F'
  const family = rng.pick(FAMILY_NAMES)
  const given = rng.pick(sex === 'M' ? MALE_GIVEN_NAMES : FEMALE_GIVEN_NAMES)
  // 8-digit MRN, unique per patient index: an odd multiplier is a bijection modulo 9·10⁷.
  const offset = Prng.for(o.seed, 'mrn').int(0, 89_999_999)
  const patientId = String(10_000_000 + ((index * 7919 + offset) % 90_000_000))
  const birth = new Date(Date.UTC(1935, 0, 1) + rng.int(0, 70 * 365) * 86_400_000)
  return {
    index,
    patientId,
    name: japaneseName(family, given, halfWidthKana),
    birthDate: ymd(birth),
    sex,
    charset,
    halfWidthKana,
    institution: rng.pick(INSTITUTIONS),
    weightKg: sex === 'M' ? rng.int(52, 88) : rng.int(40, 72),
    heightM: (sex === 'M' ? rng.int(158, 182) : rng.int(145, 168)) / 100,
  }
}

const EQUIPMENT: Record<SynthModality, Array<[string, string, string]>> = {
  CT: [['CANON_MEC', 'Aquilion ONE', 'V10.8'], ['SIEMENS', 'SOMATOM Force', 'syngo CT VB20'], ['GE MEDICAL SYSTEMS', 'Revolution CT', 'revo_ct_22'], ['FUJIFILM Healthcare', 'SCENARIA View', '3.1']],
  MR: [['SIEMENS', 'MAGNETOM Skyra', 'syngo MR E11'], ['Philips', 'Ingenia', '5.7.1'], ['GE MEDICAL SYSTEMS', 'SIGNA Architect', 'MR29'], ['CANON_MEC', 'Vantage Orian', 'V7.0']],
  ES: [['OLYMPUS', 'EVIS X1 CV-1500', '1.04'], ['FUJIFILM', 'ELUXEO 7000', '2.1'], ['PENTAX Medical', 'EPK-i7010', '1.3']],
}

/** [Japanese, English, body part] */
const STUDY_DESCRIPTIONS: Record<SynthModality, Array<[string, string, string]>> = {
  CT: [['胸部単純CT', 'CT Chest without contrast', 'CHEST'], ['胸腹部造影CT', 'CT Chest/Abdomen with contrast', 'CHEST'], ['腹部骨盤CT', 'CT Abdomen Pelvis', 'ABDOMEN']],
  MR: [['頭部MRI', 'MR Brain', 'HEAD'], ['頭部MRI 脳ドック', 'MR Brain screening', 'HEAD']],
  ES: [['上部消化管内視鏡検査', 'Upper GI endoscopy (EGD)', 'STOMACH'], ['下部消化管内視鏡検査', 'Colonoscopy', 'COLON']],
}

const CT_SERIES: Array<{ ja: string; en: string; thickness: number; kernel: string; wc: number; ww: number }> = [
  { ja: '縦隔条件 5mm', en: 'Axial 5.0 Body', thickness: 5, kernel: 'FC13', wc: 40, ww: 400 },
  { ja: '肺野条件 1mm', en: 'Axial 1.0 Lung', thickness: 1, kernel: 'FC52', wc: -600, ww: 1500 },
  { ja: '骨条件 2mm', en: 'Axial 2.0 Bone', thickness: 2, kernel: 'FC30', wc: 400, ww: 1800 },
]

const MR_SERIES: Array<{ ja: string; en: string; weighting: MrWeighting; tr: number; te: number; seq: string; variant: string; etl: number; wc: number; ww: number }> = [
  { ja: 'T1強調 横断', en: 'T1 SE AX', weighting: 'T1', tr: 500, te: 12, seq: 'SE', variant: 'SK', etl: 1, wc: 700, ww: 1400 },
  { ja: 'T2強調 横断', en: 'T2 FSE AX', weighting: 'T2', tr: 4000, te: 95, seq: 'SE', variant: 'SK\\OSP', etl: 16, wc: 1300, ww: 2600 },
  { ja: 'FLAIR 横断', en: 'FLAIR AX', weighting: 'FLAIR', tr: 9000, te: 120, seq: 'SE\\IR', variant: 'SK\\SP\\MP', etl: 24, wc: 800, ww: 1600 },
]

/** SNOMED CT codes for the endoscopy anatomic region (what real ES objects carry). */
const ES_REGION: Record<string, [string, string]> = { STOMACH: ['69695003', 'Stomach'], COLON: ['71854001', 'Colon'] }

export function planStudy(o: Normalized, index: number): SynthStudy {
  const rng = Prng.for(o.seed, 'study', index)
  const patient = planPatient(o, patientIndexOf(o.seed, index))
  const modality: SynthModality = o.modality === 'mixed' ? (['CT', 'MR', 'ES'] as const)[index % 3] : o.modality
  const when = new Date(Date.UTC(2024, 0, 4) + rng.int(0, 540) * 86_400_000)
  const [ja, en, bodyPart] = rng.pick(STUDY_DESCRIPTIONS[modality])
  // Hospitals differ: some write descriptions in Japanese, some in English, some both.
  const style = rng.int(0, 2)
  const description = style === 0 ? ja : style === 1 ? en : `${ja} ${en}`.slice(0, 64)
  const [manufacturer, model, software] = rng.pick(EQUIPMENT[modality])
  const staffRng = Prng.for(o.seed, 'staff', index)
  return {
    index,
    patient,
    modality,
    studyInstanceUid: synthUid(o.seed, 'study', index),
    frameOfReferenceUid: synthUid(o.seed, 'frame-of-reference', index),
    accessionNumber: `A${ymd(when)}${pad(index % 100_000, 5)}`,
    studyId: String(1000 + (index % 99_000)),
    date: ymd(when),
    time: `${pad(rng.int(8, 18), 2)}${pad(rng.int(0, 59), 2)}${pad(rng.int(0, 59), 2)}`,
    description,
    referringPhysician: randomStaff(staffRng, patient.halfWidthKana),
    operator: randomStaff(staffRng, patient.halfWidthKana),
    performingPhysician: randomStaff(staffRng, patient.halfWidthKana),
    equipment: { manufacturer, model, software },
    bodyPart,
    esJpeg: modality === 'ES' && (o.esPixels === 'jpeg' || (o.esPixels === 'mixed' && index % 2 === 0)),
  }
}

function addSeconds(hhmmss: string, seconds: number): string {
  const t = Number(hhmmss.slice(0, 2)) * 3600 + Number(hhmmss.slice(2, 4)) * 60 + Number(hhmmss.slice(4, 6)) + seconds
  const s = Math.min(t, 86_399)
  return `${pad(Math.floor(s / 3600), 2)}${pad(Math.floor(s / 60) % 60, 2)}${pad(s % 60, 2)}`
}

function ageAt(birth: string, on: string): string {
  let years = Number(on.slice(0, 4)) - Number(birth.slice(0, 4))
  if (on.slice(4) < birth.slice(4)) years--
  return `${pad(Math.max(0, years), 3)}Y`
}

const el = (tag: number, vr: Vr, value: SynthElement['value']): SynthElement => ({ tag, vr, value })

/** One instance: UIDs, element list and native pixels. */
export function planInstance(o: Normalized, study: SynthStudy, seriesIndex: number, instanceIndex: number): SynthPlanned {
  const p = study.patient
  const m = study.modality
  const size = o.sizes[m]
  const seriesInstanceUid = synthUid(o.seed, 'series', study.index, seriesIndex)
  const sopInstanceUid = synthUid(o.seed, 'instance', study.index, seriesIndex, instanceIndex)
  const pixelRng = Prng.for(o.seed, 'pixels', study.index, seriesIndex, instanceIndex)
  const seriesTime = addSeconds(study.time, seriesIndex * 150)
  const contentTime = addSeconds(seriesTime, m === 'ES' ? instanceIndex * 17 : Math.floor(instanceIndex / 4))
  const n = o.instancesPerSeries
  const wide = (count: number, min: number) => Math.max(min, String(count).length)
  const path = `${pad(study.index + 1, wide(o.studies, 4))}/${pad(seriesIndex + 1, wide(o.seriesPerStudy, 3))}/${pad(instanceIndex + 1, wide(n, 4))}.dcm`

  const e: SynthElement[] = [
    el(0x00080005, 'CS', SPECIFIC_CHARACTER_SET[p.charset]),
    el(0x00080012, 'DA', study.date),
    el(0x00080013, 'TM', contentTime),
    el(0x00080016, 'UI', SOP_CLASS[m]),
    el(0x00080018, 'UI', sopInstanceUid),
    el(0x00080020, 'DA', study.date),
    el(0x00080021, 'DA', study.date),
    el(0x00080023, 'DA', study.date),
    el(0x00080030, 'TM', study.time),
    el(0x00080031, 'TM', seriesTime),
    el(0x00080033, 'TM', contentTime),
    el(0x00080050, 'SH', study.accessionNumber),
    el(0x00080060, 'CS', m),
    el(0x00080070, 'LO', study.equipment.manufacturer),
    el(0x00080080, 'LO', p.institution.name),
    el(0x00080090, 'PN', [study.referringPhysician]),
    el(0x00081010, 'SH', `${p.institution.station}_${m}01`),
    el(0x00081030, 'LO', study.description),
    el(0x00081040, 'LO', m === 'ES' ? '消化器内科 内視鏡センター' : '放射線科'),
    el(0x00081050, 'PN', [study.performingPhysician]),
    el(0x00081070, 'PN', [study.operator]),
    el(0x00081090, 'LO', study.equipment.model),
    el(0x00100010, 'PN', [p.name]),
    el(0x00100020, 'LO', p.patientId),
    el(0x00100030, 'DA', p.birthDate),
    el(0x00100040, 'CS', p.sex),
    el(0x00101010, 'AS', ageAt(p.birthDate, study.date)),
    el(0x00101020, 'DS', ds(p.heightM, 2)),
    el(0x00101030, 'DS', ds(p.weightKg, 1)),
    el(0x00180015, 'CS', study.bodyPart),
    el(0x00181020, 'LO', study.equipment.software),
    el(0x0020000d, 'UI', study.studyInstanceUid),
    el(0x0020000e, 'UI', seriesInstanceUid),
    el(0x00200010, 'SH', study.studyId),
    el(0x00200011, 'IS', String(seriesIndex + 1)),
    el(0x00200013, 'IS', String(instanceIndex + 1)),
    el(0x00280010, 'US', size.rows),
    el(0x00280011, 'US', size.columns),
  ]

  let pixels: Uint8Array
  if (m === 'CT') {
    const s = CT_SERIES[seriesIndex % CT_SERIES.length]
    const fov = 360
    const spacing = fov / Math.max(size.rows, size.columns)
    const z = -instanceIndex * s.thickness
    // Anatomy follows table position (400 mm from mid-chest to pelvis), so series of
    // different thickness in one study show the same body at the same z.
    const t = Math.min(1, (-z) / 400)
    pixels = ctSlice(size.rows, size.columns, t, pixelRng)
    e.push(
      el(0x00080008, 'CS', ['ORIGINAL', 'PRIMARY', 'AXIAL']),
      el(0x00080022, 'DA', study.date),
      el(0x00080032, 'TM', seriesTime),
      el(0x0008103e, 'LO', Prng.for(o.seed, 'lang', study.index).chance(0.5) ? s.ja : s.en),
      el(0x00180050, 'DS', ds(s.thickness)),
      el(0x00180060, 'DS', '120'),
      el(0x00180090, 'DS', ds(fov)),
      el(0x00181030, 'LO', study.description.length <= 64 ? study.description : study.description.slice(0, 64)),
      el(0x00181150, 'IS', '500'),
      el(0x00181151, 'IS', String(200 + (instanceIndex % 7) * 15)),
      el(0x00181152, 'IS', String(100 + (instanceIndex % 7) * 8)),
      el(0x00181210, 'SH', s.kernel),
      el(0x00185100, 'CS', 'HFS'),
      el(0x00200012, 'IS', '1'),
      el(0x00200032, 'DS', [ds(-fov / 2 + spacing / 2), ds(-fov / 2 + spacing / 2), ds(z)]),
      el(0x00200037, 'DS', ['1', '0', '0', '0', '1', '0']),
      el(0x00200052, 'UI', study.frameOfReferenceUid),
      el(0x00201040, 'LO', ''),
      el(0x00201041, 'DS', ds(z)),
      el(0x00280002, 'US', 1),
      el(0x00280004, 'CS', 'MONOCHROME2'),
      el(0x00280030, 'DS', [ds(spacing, 6), ds(spacing, 6)]),
      el(0x00280100, 'US', 16),
      el(0x00280101, 'US', 16),
      el(0x00280102, 'US', 15),
      el(0x00280103, 'US', 1),
      el(0x00281050, 'DS', ds(s.wc)),
      el(0x00281051, 'DS', ds(s.ww)),
      el(0x00281052, 'DS', '-1024'),
      el(0x00281053, 'DS', '1'),
      el(0x00281054, 'LO', 'HU'),
    )
  } else if (m === 'MR') {
    const s = MR_SERIES[seriesIndex % MR_SERIES.length]
    const fov = 230
    const spacing = fov / Math.max(size.rows, size.columns)
    const gap = n > 0 ? Math.max(1, Math.round((150 / n) * 10) / 10) : 6
    const z = 40 - instanceIndex * gap
    const t = n > 1 ? (instanceIndex + 0.5) / n : 0.55
    pixels = mrSlice(size.rows, size.columns, t, s.weighting, pixelRng)
    const tesla = study.equipment.manufacturer === 'Philips' || study.equipment.manufacturer === 'SIEMENS' ? 3 : 1.5
    e.push(
      el(0x00080008, 'CS', ['ORIGINAL', 'PRIMARY', 'M', 'ND']),
      el(0x00080022, 'DA', study.date),
      el(0x00080032, 'TM', seriesTime),
      el(0x0008103e, 'LO', Prng.for(o.seed, 'lang', study.index).chance(0.5) ? s.ja : s.en),
      el(0x00180020, 'CS', s.seq.split('\\')),
      el(0x00180021, 'CS', s.variant.split('\\')),
      el(0x00180022, 'CS', ['SAT_GEMS']),
      el(0x00180023, 'CS', '2D'),
      el(0x00180050, 'DS', ds(gap * 0.85, 2)),
      el(0x00180080, 'DS', ds(s.tr)),
      el(0x00180081, 'DS', ds(s.te)),
      el(0x00180084, 'DS', ds(42.577478 * tesla, 6)),
      el(0x00180087, 'DS', ds(tesla)),
      el(0x00180088, 'DS', ds(gap, 2)),
      el(0x00180091, 'IS', String(s.etl)),
      el(0x00181030, 'LO', s.en),
      el(0x00181314, 'DS', s.weighting === 'T1' ? '70' : '90'),
      el(0x00185100, 'CS', 'HFS'),
      el(0x00200012, 'IS', '1'),
      el(0x00200032, 'DS', [ds(-fov / 2 + spacing / 2), ds(-fov / 2 + spacing / 2), ds(z)]),
      el(0x00200037, 'DS', ['1', '0', '0', '0', '1', '0']),
      el(0x00200052, 'UI', study.frameOfReferenceUid),
      el(0x00201040, 'LO', ''),
      el(0x00201041, 'DS', ds(z)),
      el(0x00280002, 'US', 1),
      el(0x00280004, 'CS', 'MONOCHROME2'),
      el(0x00280030, 'DS', [ds(spacing, 6), ds(spacing, 6)]),
      el(0x00280100, 'US', 16),
      el(0x00280101, 'US', 12),
      el(0x00280102, 'US', 11),
      el(0x00280103, 'US', 0),
      el(0x00281050, 'DS', ds(s.wc)),
      el(0x00281051, 'DS', ds(s.ww)),
    )
  } else {
    pixels = esFrame(size.rows, size.columns, pixelRng)
    const [code, meaning] = ES_REGION[study.bodyPart] ?? ES_REGION.STOMACH
    e.push(
      el(0x00080008, 'CS', ['ORIGINAL', 'PRIMARY']),
      el(0x0008103e, 'LO', Prng.for(o.seed, 'lang', study.index).chance(0.5) ? '内視鏡画像' : 'Endoscopic images'),
      el(0x00082218, 'SQ', [[
        el(0x00080100, 'SH', code),
        el(0x00080102, 'SH', 'SCT'),
        el(0x00080104, 'LO', meaning),
      ]]),
      el(0x00200020, 'CS', ''),
      el(0x00280002, 'US', 3),
      el(0x00280004, 'CS', 'RGB'),
      el(0x00280006, 'US', 0),
      el(0x00280100, 'US', 8),
      el(0x00280101, 'US', 8),
      el(0x00280102, 'US', 7),
      el(0x00280103, 'US', 0),
      el(0x00282110, 'CS', '00'),
      el(0x00400555, 'SQ', []),
    )
  }
  e.sort((a, b) => a.tag - b.tag)
  return {
    study,
    seriesIndex,
    instanceIndex,
    seriesInstanceUid,
    sopInstanceUid,
    path,
    transferSyntaxUID: study.esJpeg ? TRANSFER_SYNTAX.jpegBaseline : TRANSFER_SYNTAX.explicitLittle,
    elements: e,
    pixels,
    size,
  }
}

/** Every instance of the corpus, in order, lazily: plans only, no pixel compression or encoding. */
export function* planCorpus(opts: SynthOptions): Generator<SynthPlanned> {
  const o = normalizeOptions(opts)
  for (let s = 0; s < o.studies; s++) {
    const study = planStudy(o, s)
    for (let se = 0; se < o.seriesPerStudy; se++) {
      for (let i = 0; i < o.instancesPerSeries; i++) yield planInstance(o, study, se, i)
    }
  }
}
