/**
 * @module Clinical content for the SS-MIX2 generator: endoscopy exams, pathology specimens with Group
 * classification, radiology exams with findings and impressions. Codes come from the shipped vocabularies
 * (schema/codes: MST3 sites, findings and diagnoses; KURA lists; PARIS; JNET), ICD-10 and SNOMED CT, written in
 * messages with HL7 table 0396 names where there is one (`99KURA`, `I10`, `SCT`): records from a generated tree
 * validate, and ssmix2.test.ts checks that they do.
 */
import type { EndoscopyExamType, GroupClassification } from '../schema/types.ts'

export type Term = readonly [code: string, meaning: string]

export interface EndoscopyExamKind {
  code: string
  name: string
  examType: EndoscopyExamType
  sites: readonly Term[]
  findings: readonly Term[]
  scopes: readonly string[]
}

export const ENDOSCOPY_EXAMS: readonly EndoscopyExamKind[] = [
  {
    code: 'ES-UGI', name: '上部消化管内視鏡検査', examType: 'upper-gi',
    sites: [['ES-MIDDLE', '胸部中部食道'], ['ES-LOWER', '胸部下部食道'], ['ST-CARDIA', '噴門部'], ['ST-BODY-M', '胃体中部'], ['ST-ANGLE', '胃角部'], ['ST-ANTRUM', '前庭部'], ['DU-BULB', '十二指腸球部']],
    findings: [['FD-EROSION', 'びらん'], ['FD-ULCER', '潰瘍'], ['FD-POLYP', 'ポリープ'], ['FD-TUMOR', '腫瘍'], ['FD-ATROPHY', '萎縮'], ['FD-VARICES', '静脈瘤'], ['FD-NORMAL', '異常なし']],
    scopes: ['GIF-H290Z', 'GIF-XZ1200', 'EG-L600ZW7'],
  },
  {
    code: 'ES-CS', name: '下部消化管内視鏡検査', examType: 'colonoscopy',
    sites: [['CO-CECUM', '盲腸'], ['CO-ASC', '上行結腸'], ['CO-TRANS', '横行結腸'], ['CO-DESC', '下行結腸'], ['CO-SIG', 'S状結腸'], ['CO-RECTUM', '直腸']],
    findings: [['FD-POLYP', 'ポリープ'], ['FD-TUMOR', '腫瘍'], ['FD-DIVERTICULUM', '憩室'], ['FD-HEMORRHOIDS', '痔核'], ['FD-NORMAL', '異常なし']],
    scopes: ['CF-HQ290I', 'PCF-H290ZI', 'EC-L600ZP7'],
  },
  {
    code: 'ES-SB', name: '小腸カプセル内視鏡検査', examType: 'small-bowel',
    sites: [['SB-JEJUNUM', '空腸'], ['SB-ILEUM', '回腸']],
    findings: [['FD-EROSION', 'びらん'], ['FD-ULCER', '潰瘍'], ['FD-ANGIOECTASIA', '血管拡張'], ['FD-NORMAL', '異常なし']],
    scopes: ['PillCam SB3', 'EndoCapsule 10'],
  },
  {
    code: 'ES-ERCP', name: '内視鏡的逆行性胆管膵管造影', examType: 'ercp',
    sites: [['DU-PAPILLA', '十二指腸乳頭'], ['BD-CBD', '総胆管'], ['PD-MAIN', '主膵管']],
    findings: [['FD-STONE', '結石'], ['FD-STRICTURE', '狭窄'], ['FD-TUMOR', '腫瘍']],
    scopes: ['TJF-Q290V', 'ED-580XT'],
  },
]

/** Morphology: Paris classification (system PARIS) for polyps and tumours, JNET (system JNET) in the colon. */
export const CLASSIFICATIONS: readonly Term[] = [['0-Is', '無茎性'], ['0-IIa', '表面隆起型'], ['0-IIc', '表面陥凹型']]
export const JNET_TYPES: readonly Term[] = [['2A', 'Type 2A'], ['2B', 'Type 2B']]
export const INDICATIONS: readonly Term[] = [['IND-SCREENING', '検診'], ['IND-SYMPTOMS', '有症状'], ['IND-SURVEILLANCE', 'サーベイランス'], ['IND-POSITIVE-FIT', '便潜血陽性'], ['IND-BLEEDING', '出血・貧血']]
export const SEDATIONS: readonly Term[] = [['NONE', 'なし'], ['SED-MIDAZOLAM', 'ミダゾラム'], ['SED-PROPOFOL', 'プロポフォール'], ['SED-PETHIDINE', 'ペチジン']]
export const ANTITHROMBOTICS: readonly Term[] = [['NONE', 'なし'], ['AT-ASPIRIN', 'アスピリン'], ['AT-THIENOPYRIDINE', 'チエノピリジン誘導体'], ['AT-WARFARIN', 'ワルファリン'], ['AT-DOAC', '直接経口抗凝固薬']]
export const H_PYLORI: readonly Term[] = [['POS', '陽性'], ['NEG', '陰性'], ['ERAD', '除菌後'], ['UNK', '不明']]
export const PROCEDURES: readonly Term[] = [['PR-BIOPSY', '生検'], ['PR-EMR', '内視鏡的粘膜切除術'], ['PR-ESD', '内視鏡的粘膜下層剥離術'], ['PR-POLYPECTOMY', 'ポリペクトミー'], ['PR-EST', '内視鏡的乳頭括約筋切開術']]
export const ADVERSE_EVENTS: readonly Term[] = [['NONE', 'なし'], ['AE-BLEEDING-INTRA', '術中出血'], ['AE-PERFORATION', '穿孔']]

/**
 * Diagnoses by exam and finding: MST 3.0-based diagnosis terms (system MST3) where the list has one, ICD-10
 * (written `I10`, HL7 table 0396) otherwise.
 */
export const DIAGNOSES: Readonly<Record<string, readonly [code: string, meaning: string, system: 'MST3' | 'I10']>> = {
  'upper-gi:FD-EROSION': ['K29.7', '胃炎', 'I10'], 'upper-gi:FD-ULCER': ['DX-GASTRIC-ULCER', '胃潰瘍', 'MST3'],
  'upper-gi:FD-POLYP': ['DX-FUNDIC-POLYP', '胃底腺ポリープ', 'MST3'], 'upper-gi:FD-TUMOR': ['DX-GASTRIC-CANCER', '胃癌', 'MST3'],
  'upper-gi:FD-ATROPHY': ['DX-GASTRITIS-ATROPHIC', '萎縮性胃炎', 'MST3'], 'upper-gi:FD-VARICES': ['I85.9', '食道静脈瘤', 'I10'],
  'colonoscopy:FD-POLYP': ['DX-COLORECTAL-ADENOMA', '大腸腺腫', 'MST3'], 'colonoscopy:FD-TUMOR': ['DX-COLORECTAL-CANCER', '大腸癌', 'MST3'],
  'colonoscopy:FD-DIVERTICULUM': ['DX-DIVERTICULOSIS', '憩室症', 'MST3'], 'colonoscopy:FD-HEMORRHOIDS': ['K64.9', '痔核', 'I10'],
  'small-bowel:FD-EROSION': ['K52.9', '小腸炎', 'I10'], 'small-bowel:FD-ULCER': ['K63.3', '小腸潰瘍', 'I10'], 'small-bowel:FD-ANGIOECTASIA': ['K55.2', '小腸血管拡張症', 'I10'],
  'ercp:FD-STONE': ['DX-CHOLEDOCHOLITHIASIS', '総胆管結石', 'MST3'], 'ercp:FD-STRICTURE': ['DX-BILIARY-STRICTURE', '胆管狭窄', 'MST3'], 'ercp:FD-TUMOR': ['DX-PANCREATIC-CANCER', '膵癌', 'MST3'],
  'any:FD-NORMAL': ['DX-NORMAL', '異常なし', 'MST3'],
}

export const SPECIMEN_TYPES: readonly Term[] = [['SP-BIOPSY', '生検'], ['SP-EMR', 'EMR検体']]

export interface PathologyOutcome {
  group: GroupClassification
  /** ICD-10 (written `I10`). */
  diagnosis: Term
  text: string
}

export const PATHOLOGY_OUTCOMES: readonly PathologyOutcome[] = [
  { group: '1', diagnosis: ['K31.8', '正常粘膜'], text: '正常粘膜。悪性所見なし。' },
  { group: '2', diagnosis: ['K29.5', '慢性胃炎'], text: '慢性炎症性変化。異型は軽度。' },
  { group: '3', diagnosis: ['D13.1', '管状腺腫'], text: '管状腺腫、低異型度。' },
  { group: '4', diagnosis: ['D37.1', '腺癌疑い'], text: '高異型度腺腫、腺癌を否定できない。' },
  { group: '5', diagnosis: ['C16.9', '腺癌'], text: '高分化管状腺癌。' },
]

export interface RadiologyExamKind {
  code: string
  name: string
  modality: string
  /** SNOMED CT body structure (written `SCT`, HL7 table 0396), as DICOM anatomic regions are coded. */
  bodyPart: Term
  findings: readonly string[]
  impressions: readonly string[]
}

export const RADIOLOGY_EXAMS: readonly RadiologyExamKind[] = [
  { code: 'RAD-CT-CHEST', name: '胸部単純CT', modality: 'CT', bodyPart: ['51185008', '胸部'], findings: ['両肺に明らかな結節影なし。', '右肺下葉に5mm大の結節影あり。'], impressions: ['異常なし。', '経過観察を推奨。'] },
  { code: 'RAD-CT-ABD', name: '腹部造影CT', modality: 'CT', bodyPart: ['113345001', '腹部'], findings: ['肝内に明らかな占拠性病変なし。', '胃壁の限局性肥厚あり。'], impressions: ['特記すべき所見なし。', '胃癌の可能性、内視鏡での精査を推奨。'] },
  { code: 'RAD-MR-HEAD', name: '頭部MRI', modality: 'MR', bodyPart: ['69536005', '頭部'], findings: ['深部白質に小梗塞巣散見。', '頭蓋内に異常信号なし。'], impressions: ['陳旧性ラクナ梗塞。', '異常なし。'] },
  { code: 'RAD-CR-CHEST', name: '胸部単純X線撮影', modality: 'CR', bodyPart: ['51185008', '胸部'], findings: ['心胸郭比48%。肺野清。'], impressions: ['異常なし。'] },
]

export const DEPARTMENTS: ReadonlyArray<{ code: string; name: string }> = [
  { code: '01', name: '内科' }, { code: '13', name: '消化器内科' }, { code: '21', name: '外科' }, { code: '31', name: '放射線科' },
]

export const DRUGS: ReadonlyArray<[string, string]> = [['620004224', 'ランソプラゾール錠15mg'], ['610463086', 'アスピリン腸溶錠100mg'], ['620007228', 'ボノプラザン錠20mg']]
