/**
 * @module An MST 3.0-based subset of endoscopy terms: anatomical sites and findings of the upper GI tract, the
 * small bowel, the biliopancreatic ducts and the colon, plus the endoscopic diagnoses the Japan Endoscopy Database
 * records most. MST itself lists terms under headings rather than codes: the short codes here (`ST-ANGLE`,
 * `FD-ULCER`) are Kura's identifiers for those terms, stable once published; the English term follows MST 3.0's
 * wording, the Japanese one common Japanese endoscopy usage.
 */

/** The notice that must travel with this list (MST's licence permits redistribution with it). */
export const MST_NOTICE =
  'Terms based on the Minimal Standard Terminology for Gastrointestinal Endoscopy, MST 3.0, by the World Endoscopy ' +
  'Organization (WEO), redistributed as its licence permits, with this notice. This is a subset adapted by the Kura ' +
  'project (codes, Japanese terms and grouping are Kura\'s); it is not the complete MST and is not endorsed by WEO.'

export interface Term {
  code: string
  en: string
  ja: string
}

const t = (code: string, en: string, ja: string): Term => ({ code, en, ja })

/** Anatomical sites (MST 3.0 "Anatomical sites" headings for the upper GI tract, small bowel, ducts and colon). */
export const MST_SITES: readonly Term[] = [
  t('ES-UPPER', 'Esophagus, upper third', '頸部・胸部上部食道'),
  t('ES-MIDDLE', 'Esophagus, middle third', '胸部中部食道'),
  t('ES-LOWER', 'Esophagus, lower third', '胸部下部食道'),
  t('ES-EGJ', 'Esophagogastric junction', '食道胃接合部'),
  t('ST-CARDIA', 'Stomach, cardia', '噴門部'),
  t('ST-FUNDUS', 'Stomach, fundus', '胃底部'),
  t('ST-BODY-U', 'Stomach, upper body', '胃体上部'),
  t('ST-BODY-M', 'Stomach, middle body', '胃体中部'),
  t('ST-BODY-L', 'Stomach, lower body', '胃体下部'),
  t('ST-ANGLE', 'Stomach, angulus', '胃角部'),
  t('ST-ANTRUM', 'Stomach, antrum', '前庭部'),
  t('ST-PYLORUS', 'Pylorus', '幽門'),
  t('ST-ANASTOMOSIS', 'Stomach, anastomosis', '吻合部'),
  t('DU-BULB', 'Duodenal bulb', '十二指腸球部'),
  t('DU-SECOND', 'Duodenum, second portion', '十二指腸下行部'),
  t('DU-PAPILLA', 'Major papilla', '十二指腸乳頭'),
  t('SB-JEJUNUM', 'Jejunum', '空腸'),
  t('SB-ILEUM', 'Ileum', '回腸'),
  t('BD-CBD', 'Common bile duct', '総胆管'),
  t('BD-HILAR', 'Hepatic hilum bile ducts', '肝門部胆管'),
  t('PD-MAIN', 'Main pancreatic duct', '主膵管'),
  t('CO-TI', 'Terminal ileum', '回腸末端'),
  t('CO-ICV', 'Ileocecal valve', '回盲弁'),
  t('CO-CECUM', 'Cecum', '盲腸'),
  t('CO-ASC', 'Ascending colon', '上行結腸'),
  t('CO-HF', 'Hepatic flexure', '肝彎曲'),
  t('CO-TRANS', 'Transverse colon', '横行結腸'),
  t('CO-SF', 'Splenic flexure', '脾彎曲'),
  t('CO-DESC', 'Descending colon', '下行結腸'),
  t('CO-SIG', 'Sigmoid colon', 'S状結腸'),
  t('CO-RS', 'Rectosigmoid', '直腸S状部'),
  t('CO-RECTUM', 'Rectum', '直腸'),
  t('CO-ANUS', 'Anus', '肛門'),
]

/** Findings (MST 3.0 "Findings" headings: lumen, contents, mucosa, flat/protruding/excavated lesions, ...). */
export const MST_FINDINGS: readonly Term[] = [
  t('FD-NORMAL', 'Normal', '異常なし'),
  t('FD-STRICTURE', 'Stricture', '狭窄'),
  t('FD-BLOOD', 'Blood', '血液'),
  t('FD-FOOD', 'Food residue', '食物残渣'),
  t('FD-ERYTHEMA', 'Erythema', '発赤'),
  t('FD-EDEMA', 'Edema', '浮腫'),
  t('FD-ATROPHY', 'Atrophy', '萎縮'),
  t('FD-METAPLASIA', 'Intestinal metaplasia', '腸上皮化生'),
  t('FD-BARRETT', 'Barrett\'s mucosa', 'バレット粘膜'),
  t('FD-EROSION', 'Erosion', 'びらん'),
  t('FD-ULCER', 'Ulcer', '潰瘍'),
  t('FD-SCAR', 'Scar', '瘢痕'),
  t('FD-FLAT-LESION', 'Flat lesion', '平坦病変'),
  t('FD-POLYP', 'Polyp', 'ポリープ'),
  t('FD-TUMOR', 'Tumor / mass', '腫瘍'),
  t('FD-SMT', 'Submucosal tumor', '粘膜下腫瘍'),
  t('FD-VARICES', 'Varices', '静脈瘤'),
  t('FD-ANGIOECTASIA', 'Angioectasia', '血管拡張'),
  t('FD-DIVERTICULUM', 'Diverticulum', '憩室'),
  t('FD-HERNIA', 'Hiatal hernia', '食道裂孔ヘルニア'),
  t('FD-HEMORRHOIDS', 'Hemorrhoids', '痔核'),
  t('FD-COLITIS', 'Colitis', '大腸炎'),
  t('FD-STONE', 'Stone', '結石'),
]

/** Endoscopic diagnoses (MST 3.0 "Diagnoses" headings most recorded by the Japan Endoscopy Database). */
export const MST_DIAGNOSES: readonly Term[] = [
  t('DX-NORMAL', 'Normal examination', '異常なし'),
  t('DX-REFLUX-ESOPHAGITIS', 'Reflux esophagitis', '逆流性食道炎'),
  t('DX-ESOPHAGEAL-CANCER', 'Esophageal cancer', '食道癌'),
  t('DX-GASTRITIS-ATROPHIC', 'Atrophic gastritis', '萎縮性胃炎'),
  t('DX-GASTRIC-ULCER', 'Gastric ulcer', '胃潰瘍'),
  t('DX-DUODENAL-ULCER', 'Duodenal ulcer', '十二指腸潰瘍'),
  t('DX-GASTRIC-CANCER', 'Gastric cancer', '胃癌'),
  t('DX-GASTRIC-ADENOMA', 'Gastric adenoma', '胃腺腫'),
  t('DX-FUNDIC-POLYP', 'Fundic gland polyp', '胃底腺ポリープ'),
  t('DX-HYPERPLASTIC-POLYP', 'Hyperplastic polyp', '過形成性ポリープ'),
  t('DX-COLORECTAL-ADENOMA', 'Colorectal adenoma', '大腸腺腫'),
  t('DX-COLORECTAL-CANCER', 'Colorectal cancer', '大腸癌'),
  t('DX-SSL', 'Sessile serrated lesion', '鋸歯状病変'),
  t('DX-DIVERTICULOSIS', 'Diverticulosis', '憩室症'),
  t('DX-ULCERATIVE-COLITIS', 'Ulcerative colitis', '潰瘍性大腸炎'),
  t('DX-CROHN', 'Crohn\'s disease', 'クローン病'),
  t('DX-CHOLEDOCHOLITHIASIS', 'Choledocholithiasis', '総胆管結石'),
  t('DX-BILIARY-STRICTURE', 'Biliary stricture', '胆管狭窄'),
  t('DX-PANCREATIC-CANCER', 'Pancreatic cancer', '膵癌'),
]
