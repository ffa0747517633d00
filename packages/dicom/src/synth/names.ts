/**
 * @module Fake Japanese people, places and words for the synthetic corpus.
 *
 * Every kanji here is in JIS X 0208, so each name encodes in ISO 2022 IR 87 as well as in
 * UTF-8; 々 and long names are in on purpose, because they are where encoders go wrong.
 * Names are common ones, combined at random: no real person is described.
 */
import type { PersonName } from '../types.ts'
import type { Prng } from './prng.ts'

/** [kanji, hiragana, romaji] */
type NameParts = readonly [string, string, string]

export const FAMILY_NAMES: readonly NameParts[] = [
  ['山田', 'やまだ', 'Yamada'], ['佐藤', 'さとう', 'Sato'], ['鈴木', 'すずき', 'Suzuki'],
  ['高橋', 'たかはし', 'Takahashi'], ['田中', 'たなか', 'Tanaka'], ['伊藤', 'いとう', 'Ito'],
  ['渡辺', 'わたなべ', 'Watanabe'], ['中村', 'なかむら', 'Nakamura'], ['小林', 'こばやし', 'Kobayashi'],
  ['加藤', 'かとう', 'Kato'], ['吉田', 'よしだ', 'Yoshida'], ['山本', 'やまもと', 'Yamamoto'],
  ['佐々木', 'ささき', 'Sasaki'], ['松本', 'まつもと', 'Matsumoto'], ['井上', 'いのうえ', 'Inoue'],
  ['木村', 'きむら', 'Kimura'], ['林', 'はやし', 'Hayashi'], ['斎藤', 'さいとう', 'Saito'],
  ['清水', 'しみず', 'Shimizu'], ['山口', 'やまぐち', 'Yamaguchi'], ['森', 'もり', 'Mori'],
  ['池田', 'いけだ', 'Ikeda'], ['橋本', 'はしもと', 'Hashimoto'], ['石川', 'いしかわ', 'Ishikawa'],
  ['小川', 'おがわ', 'Ogawa'], ['長谷川', 'はせがわ', 'Hasegawa'], ['藤原', 'ふじわら', 'Fujiwara'],
  ['近藤', 'こんどう', 'Kondo'], ['岡田', 'おかだ', 'Okada'], ['前田', 'まえだ', 'Maeda'],
]

export const MALE_GIVEN_NAMES: readonly NameParts[] = [
  ['太郎', 'たろう', 'Taro'], ['一郎', 'いちろう', 'Ichiro'], ['健太', 'けんた', 'Kenta'],
  ['翔太', 'しょうた', 'Shota'], ['大輔', 'だいすけ', 'Daisuke'], ['誠', 'まこと', 'Makoto'],
  ['浩二', 'こうじ', 'Koji'], ['拓也', 'たくや', 'Takuya'], ['直樹', 'なおき', 'Naoki'],
  ['和夫', 'かずお', 'Kazuo'], ['正雄', 'まさお', 'Masao'], ['隆', 'たかし', 'Takashi'],
  ['修', 'おさむ', 'Osamu'], ['健一', 'けんいち', 'Kenichi'], ['勇気', 'ゆうき', 'Yuki'],
]

export const FEMALE_GIVEN_NAMES: readonly NameParts[] = [
  ['花子', 'はなこ', 'Hanako'], ['陽子', 'ようこ', 'Yoko'], ['恵子', 'けいこ', 'Keiko'],
  ['美咲', 'みさき', 'Misaki'], ['由美', 'ゆみ', 'Yumi'], ['直美', 'なおみ', 'Naomi'],
  ['裕子', 'ゆうこ', 'Yuko'], ['明美', 'あけみ', 'Akemi'], ['さくら', 'さくら', 'Sakura'],
  ['千代', 'ちよ', 'Chiyo'], ['美穂', 'みほ', 'Miho'], ['真由美', 'まゆみ', 'Mayumi'],
  ['久美子', 'くみこ', 'Kumiko'], ['幸子', 'さちこ', 'Sachiko'], ['愛', 'あい', 'Ai'],
]

export interface Institution {
  name: string
  nameEn: string
  station: string
}

/** Made-up hospitals; the names are generic enough that none points at a real one. */
export const INSTITUTIONS: readonly Institution[] = [
  { name: '東京中央病院', nameEn: 'Tokyo Chuo Hospital', station: 'TCH' },
  { name: '大阪北総合病院', nameEn: 'Osaka Kita General Hospital', station: 'OKG' },
  { name: '名古屋市民医療センター', nameEn: 'Nagoya Shimin Medical Center', station: 'NSM' },
  { name: '札幌さくら病院', nameEn: 'Sapporo Sakura Hospital', station: 'SSH' },
  { name: '福岡湾岸クリニック', nameEn: 'Fukuoka Wangan Clinic', station: 'FWC' },
  { name: '仙台青葉記念病院', nameEn: 'Sendai Aoba Memorial Hospital', station: 'SAM' },
]

const HIRAGANA = 'あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをんぁぃぅぇぉゃゅょっ'
const HALF_KATAKANA = 'ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜｦﾝｧｨｩｪｫｬｭｮｯ'

/**
 * Hiragana to half-width katakana (JIS X 0201), the phonetic form many Japanese hospital
 * systems still store; voiced marks become the separate ﾞ/ﾟ characters, as in the standard's
 * example `ﾔﾏﾀﾞ^ﾀﾛｳ` (PS3.5 H.3.2).
 */
export function toHalfWidthKatakana(hiragana: string): string {
  let out = ''
  for (const ch of hiragana.normalize('NFD')) {
    const i = HIRAGANA.indexOf(ch)
    if (i >= 0) out += HALF_KATAKANA[i]
    else if (ch === '\u3099') out += 'ﾞ'
    else if (ch === '\u309A') out += 'ﾟ'
    else if (ch === 'ー') out += 'ｰ'
    else out += ch
  }
  return out
}

export type Sex = 'M' | 'F'

/**
 * A person name in the Japanese convention: romaji, kanji, kana (PS3.5 H.3), with the kana
 * half-width when the character set in use is the one that carries it.
 */
export function japaneseName(family: NameParts, given: NameParts, halfWidthPhonetic: boolean): PersonName {
  const phonetic = `${family[1]}^${given[1]}`
  return {
    Alphabetic: `${family[2]}^${given[2]}`,
    Ideographic: `${family[0]}^${given[0]}`,
    Phonetic: halfWidthPhonetic ? toHalfWidthKatakana(phonetic) : phonetic,
  }
}

export function randomPerson(rng: Prng, sex: Sex, halfWidthPhonetic: boolean): PersonName {
  const given = rng.pick(sex === 'M' ? MALE_GIVEN_NAMES : FEMALE_GIVEN_NAMES)
  return japaneseName(rng.pick(FAMILY_NAMES), given, halfWidthPhonetic)
}

/** A physician or operator: doctors are written with the same three groups as patients. */
export function randomStaff(rng: Prng, halfWidthPhonetic: boolean): PersonName {
  return randomPerson(rng, rng.chance(0.6) ? 'M' : 'F', halfWidthPhonetic)
}
