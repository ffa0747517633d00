/**
 * @module Synthetic Japanese patients for vendor-export generators: kanji and kana names (several with Shift_JIS
 * 0x5C trail-byte characters: 能, 表, ソ, 十), 8-digit IDs, birth dates, addresses, postal codes and phones. All
 * invented; a seeded generator gives the same people for the same seed.
 */

/** A small seeded PRNG (mulberry32): deterministic test data without a dependency. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!

// [kanji, katakana, romaji]; 能登, 相馬 (ソ), 表, 十河 carry 0x5C trail bytes in Shift_JIS.
const FAMILY: ReadonlyArray<[string, string, string]> = [
  ['山田', 'ヤマダ', 'Yamada'], ['佐藤', 'サトウ', 'Satou'], ['鈴木', 'スズキ', 'Suzuki'], ['高橋', 'タカハシ', 'Takahashi'],
  ['能登', 'ノト', 'Noto'], ['相馬', 'ソウマ', 'Souma'], ['表', 'オモテ', 'Omote'], ['十河', 'ソゴウ', 'Sogou'],
  ['伊藤', 'イトウ', 'Itou'], ['渡辺', 'ワタナベ', 'Watanabe'], ['小林', 'コバヤシ', 'Kobayashi'], ['中村', 'ナカムラ', 'Nakamura'],
]
const GIVEN: ReadonlyArray<[string, string, string, 'M' | 'F']> = [
  ['太郎', 'タロウ', 'Tarou', 'M'], ['一郎', 'イチロウ', 'Ichirou', 'M'], ['誠', 'マコト', 'Makoto', 'M'], ['宗助', 'ソウスケ', 'Sousuke', 'M'],
  ['花子', 'ハナコ', 'Hanako', 'F'], ['恵子', 'ケイコ', 'Keiko', 'F'], ['由美子', 'ユミコ', 'Yumiko', 'F'], ['聡子', 'ソウコ', 'Souko', 'F'],
]
const PLACES: ReadonlyArray<[string, string]> = [
  ['東京都新宿区西新宿', '160-0023'], ['大阪府大阪市北区梅田', '530-0001'], ['石川県七尾市能登島向田町', '926-0211'],
  ['福島県南相馬市原町区本町', '975-0004'], ['愛知県名古屋市中区栄', '460-0008'], ['北海道札幌市中央区北一条西', '060-0001'],
]

export interface SynthPatient {
  patientId: string
  kanji: string
  kana: string
  romaji: string
  sex: 'M' | 'F'
  /** YYYY-MM-DD */
  birthDate: string
  address: string
  postalCode: string
  phone: string
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0')

/** `count` distinct patients. */
export function synthPatients(rnd: () => number, count: number): SynthPatient[] {
  const out: SynthPatient[] = []
  const ids = new Set<string>()
  while (out.length < count) {
    const f = pick(rnd, FAMILY)
    const g = pick(rnd, GIVEN)
    let id: string
    do id = pad(Math.floor(rnd() * 1e8), 8)
    while (ids.has(id))
    ids.add(id)
    const y = 1930 + Math.floor(rnd() * 70)
    const m = 1 + Math.floor(rnd() * 12)
    const d = 1 + Math.floor(rnd() * 28)
    const [town, postal] = pick(rnd, PLACES)
    out.push({
      patientId: id,
      kanji: `${f[0]} ${g[0]}`,
      kana: `${f[1]} ${g[1]}`,
      romaji: `${f[2]} ${g[2]}`,
      sex: g[3],
      birthDate: `${y}-${pad(m)}-${pad(d)}`,
      address: `${town}${1 + Math.floor(rnd() * 9)}-${1 + Math.floor(rnd() * 20)}-${1 + Math.floor(rnd() * 30)}`,
      postalCode: postal,
      phone: `0${1 + Math.floor(rnd() * 9)}-${pad(Math.floor(rnd() * 10000), 4)}-${pad(Math.floor(rnd() * 10000), 4)}`,
    })
  }
  return out
}
