/**
 * @module Kura's own small code lists (system `KURA`) for endoscopy record fields that MST does not cover:
 * exam types, indications, sedation drugs, antithrombotic drug classes (the classes the JGES guideline on
 * endoscopy in patients on antithrombotics distinguishes), procedures and adverse events; plus the morphology
 * classifications (`PARIS`: the Paris endoscopic classification of superficial neoplastic lesions; `JNET`: the
 * Japan NBI Expert Team classification) and pathology specimen types.
 */
import type { Term } from './mst.ts'
import type { EndoscopyExamType } from '../types.ts'

const t = (code: string, en: string, ja: string): Term => ({ code, en, ja })

/** The exam type enum with its names, for adapters' value maps and the UI. */
export const EXAM_TYPES: ReadonlyArray<Term & { code: EndoscopyExamType }> = [
  { code: 'upper-gi', en: 'Upper GI endoscopy', ja: '上部消化管内視鏡' },
  { code: 'colonoscopy', en: 'Colonoscopy', ja: '下部消化管内視鏡' },
  { code: 'small-bowel', en: 'Small bowel endoscopy', ja: '小腸内視鏡' },
  { code: 'ercp', en: 'ERCP', ja: '内視鏡的逆行性胆管膵管造影' },
]

export const INDICATIONS: readonly Term[] = [
  t('IND-SCREENING', 'Screening', '検診'),
  t('IND-SURVEILLANCE', 'Surveillance', 'サーベイランス'),
  t('IND-SYMPTOMS', 'Symptoms', '有症状'),
  t('IND-BLEEDING', 'Bleeding / anemia', '出血・貧血'),
  t('IND-POSITIVE-FIT', 'Positive fecal occult blood test', '便潜血陽性'),
  t('IND-TREATMENT', 'Treatment', '治療'),
  t('IND-PRE-OP', 'Preoperative evaluation', '術前精査'),
]

export const SEDATION_DRUGS: readonly Term[] = [
  t('SED-MIDAZOLAM', 'Midazolam', 'ミダゾラム'),
  t('SED-DIAZEPAM', 'Diazepam', 'ジアゼパム'),
  t('SED-PROPOFOL', 'Propofol', 'プロポフォール'),
  t('SED-PETHIDINE', 'Pethidine', 'ペチジン'),
  t('SED-PENTAZOCINE', 'Pentazocine', 'ペンタゾシン'),
  t('SED-DEXMEDETOMIDINE', 'Dexmedetomidine', 'デクスメデトミジン'),
]

/** Antithrombotic drug classes (JGES guideline categories), not individual brands. */
export const ANTITHROMBOTICS: readonly Term[] = [
  t('AT-ASPIRIN', 'Aspirin', 'アスピリン'),
  t('AT-THIENOPYRIDINE', 'Thienopyridine (clopidogrel, prasugrel, ticlopidine)', 'チエノピリジン誘導体'),
  t('AT-CILOSTAZOL', 'Cilostazol', 'シロスタゾール'),
  t('AT-OTHER-ANTIPLATELET', 'Other antiplatelet', 'その他の抗血小板薬'),
  t('AT-WARFARIN', 'Warfarin', 'ワルファリン'),
  t('AT-DOAC', 'Direct oral anticoagulant', '直接経口抗凝固薬'),
  t('AT-HEPARIN', 'Heparin', 'ヘパリン'),
]

export const PROCEDURES: readonly Term[] = [
  t('PR-BIOPSY', 'Biopsy', '生検'),
  t('PR-POLYPECTOMY', 'Polypectomy', 'ポリペクトミー'),
  t('PR-CSP', 'Cold snare polypectomy', 'コールドスネアポリペクトミー'),
  t('PR-EMR', 'Endoscopic mucosal resection', '内視鏡的粘膜切除術'),
  t('PR-ESD', 'Endoscopic submucosal dissection', '内視鏡的粘膜下層剥離術'),
  t('PR-HEMOSTASIS', 'Hemostasis', '止血術'),
  t('PR-EVL', 'Endoscopic variceal ligation', '内視鏡的静脈瘤結紮術'),
  t('PR-DILATION', 'Dilation', '拡張術'),
  t('PR-STENT', 'Stent placement', 'ステント留置'),
  t('PR-EST', 'Endoscopic sphincterotomy', '内視鏡的乳頭括約筋切開術'),
  t('PR-STONE-REMOVAL', 'Stone removal', '結石除去'),
]

export const ADVERSE_EVENTS: readonly Term[] = [
  t('AE-BLEEDING-INTRA', 'Intraprocedural bleeding', '術中出血'),
  t('AE-BLEEDING-DELAYED', 'Delayed bleeding', '後出血'),
  t('AE-PERFORATION', 'Perforation', '穿孔'),
  t('AE-PEP', 'Post-ERCP pancreatitis', 'ERCP後膵炎'),
  t('AE-ASPIRATION', 'Aspiration pneumonia', '誤嚥性肺炎'),
  t('AE-HYPOXIA', 'Sedation-related hypoxemia', '鎮静関連低酸素血症'),
  t('AE-CARDIOVASCULAR', 'Cardiovascular event', '心血管イベント'),
]

/** Paris classification of superficial lesions (type 0), with the common combined forms. */
export const PARIS: readonly Term[] = [
  t('0-Ip', 'Pedunculated', '有茎性'),
  t('0-Isp', 'Subpedunculated', '亜有茎性'),
  t('0-Is', 'Sessile', '無茎性'),
  t('0-IIa', 'Slightly elevated', '表面隆起型'),
  t('0-IIb', 'Flat', '表面平坦型'),
  t('0-IIc', 'Slightly depressed', '表面陥凹型'),
  t('0-III', 'Excavated', '陥凹型'),
  t('0-IIa+IIc', 'Elevated with depression', '表面隆起＋陥凹型'),
  t('0-IIc+IIa', 'Depressed with elevated margin', '表面陥凹＋隆起型'),
  t('0-IIc+III', 'Depressed with excavation', '表面陥凹＋陥凹型'),
]

/** JNET classification of colorectal lesions under magnifying NBI. */
export const JNET: readonly Term[] = [
  t('1', 'Type 1 (hyperplastic / sessile serrated)', 'Type 1'),
  t('2A', 'Type 2A (low-grade intramucosal neoplasia)', 'Type 2A'),
  t('2B', 'Type 2B (high-grade / shallow submucosal)', 'Type 2B'),
  t('3', 'Type 3 (deep submucosal invasive cancer)', 'Type 3'),
]

export const SPECIMEN_TYPES: readonly Term[] = [
  t('SP-BIOPSY', 'Biopsy', '生検'),
  t('SP-EMR', 'Endoscopic resection (EMR)', 'EMR検体'),
  t('SP-ESD', 'Endoscopic resection (ESD)', 'ESD検体'),
  t('SP-SURGICAL', 'Surgical resection', '手術検体'),
  t('SP-CYTOLOGY', 'Cytology', '細胞診'),
]
