/**
 * @module The SS-MIX2 standardized storage data types (データ種別) and what each holds, after the table of data
 * types in the SS-MIX2 標準化ストレージ 仕様書 (Ver.1.2h; as also tabulated by public SS-MIX2 converters). The
 * clinical domain says which standard record a data type can become: radiology orders and their performed
 * notices (OMG-01, OMG-11), endoscopy (OMG-02, OMG-12), specimen orders and results (OML-01, OML-11; pathology
 * when the order/specimen says so). Reports (ORU^R01) are not a standardized-storage type of their own; sites put
 * them in the extended storage or under a type above, so the mapping classifies them by content, not by folder.
 */

export type Ssmix2Domain = 'patient' | 'visit' | 'radiology' | 'endoscopy' | 'specimen' | 'physiology' | 'other'

export interface Ssmix2DataType {
  code: string
  /** MSH-9 as the specification prescribes (`ADT^A08`). */
  message: string
  /** The Japanese name used in the specification. */
  name: string
  domain: Ssmix2Domain
  /** An order (placer request) rather than a performed/result notice. */
  order?: boolean
}

const T = (code: string, message: string, name: string, domain: Ssmix2Domain, order?: boolean): Ssmix2DataType => ({ code, message, name, domain, order })

export const SSMIX2_DATA_TYPES: readonly Ssmix2DataType[] = [
  T('ADT-00', 'ADT^A08', '患者基本情報の更新', 'patient'),
  T('ADT-01', 'ADT^A54', '担当医の変更', 'visit'),
  T('ADT-12', 'ADT^A04', '外来診察の受付', 'visit'),
  T('ADT-21', 'ADT^A14', '入院予定', 'visit'),
  T('ADT-22', 'ADT^A01', '入院実施', 'visit'),
  T('ADT-31', 'ADT^A21', '外出・外泊実施', 'visit'),
  T('ADT-32', 'ADT^A22', '外出・外泊帰院実施', 'visit'),
  T('ADT-41', 'ADT^A15', '転科・転棟(転室・転床)予定', 'visit'),
  T('ADT-42', 'ADT^A02', '転科・転棟(転室・転床)実施', 'visit'),
  T('ADT-51', 'ADT^A16', '退院予定', 'visit'),
  T('ADT-52', 'ADT^A03', '退院実施', 'visit'),
  T('ADT-61', 'ADT^A60', 'アレルギー情報の登録／更新', 'other'),
  T('PPR-01', 'PPR^ZD1', '病名(歴)情報の登録／更新', 'other'),
  T('OMD', 'OMD^O03', '食事オーダ', 'other', true),
  T('OMP-01', 'RDE^O11', '処方オーダ', 'other', true),
  T('OMP-11', 'RAS^O17', '処方実施通知', 'other'),
  T('OMP-02', 'RDE^O11', '注射オーダ', 'other', true),
  T('OMP-12', 'RAS^O17', '注射実施通知', 'other'),
  T('OML-01', 'OML^O33', '検体検査オーダ', 'specimen', true),
  T('OML-11', 'OUL^R22', '検体検査結果通知', 'specimen'),
  T('OMG-01', 'OMG^O19', '放射線検査オーダ', 'radiology', true),
  T('OMG-11', 'OMI^Z23', '放射線検査の実施通知', 'radiology'),
  T('OMG-02', 'OMG^O19', '内視鏡検査オーダ', 'endoscopy', true),
  T('OMG-12', 'OMI^Z23', '内視鏡検査の実施通知', 'endoscopy'),
  T('OMG-03', 'OMG^O19', '生理検査オーダ', 'physiology', true),
  T('OMG-13', 'ORU^R01', '生理検査結果通知', 'physiology'),
]

const BY_CODE = new Map(SSMIX2_DATA_TYPES.map((t) => [t.code, t]))

/** The data type for a code, or undefined for one the specification does not define (extended storage, typos). */
export function ssmix2DataType(code: string): Ssmix2DataType | undefined {
  return BY_CODE.get(code)
}
