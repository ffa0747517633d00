/**
 * @module Fake Japanese patients and staff for the SS-MIX2 generator: names in kanji and katakana, birth dates,
 * addresses, postal codes and phones. Names are common ones combined at random (no real person is described);
 * several are chosen because their JIS X 0208 bytes contain HL7 delimiters (奥 0x317C and 日 0x467C `|`,
 * 厚 0x387C `|`, 本 0x4B5C and 宮 0x355C `\`, 京 0x357E and 美 0x487E `~`, 愛 0x3026 `&`, 五 0x385E `^`): a parser
 * that splits before decoding breaks them.
 */
import { Prng } from '@kura/dicom/synth'

/** [kanji, hiragana] */
type Parts = readonly [string, string]

export const FAMILY: readonly Parts[] = [
  ['山田', 'やまだ'], ['佐藤', 'さとう'], ['鈴木', 'すずき'], ['高橋', 'たかはし'], ['田中', 'たなか'], ['伊藤', 'いとう'],
  ['渡辺', 'わたなべ'], ['中村', 'なかむら'], ['小林', 'こばやし'], ['加藤', 'かとう'], ['吉田', 'よしだ'], ['山本', 'やまもと'],
  ['佐々木', 'ささき'], ['松本', 'まつもと'], ['井上', 'いのうえ'], ['木村', 'きむら'], ['斎藤', 'さいとう'], ['清水', 'しみず'],
  ['宮本', 'みやもと'], ['五十嵐', 'いがらし'], ['橋本', 'はしもと'], ['長谷川', 'はせがわ'], ['宮崎', 'みやざき'], ['岡本', 'おかもと'],
  ['藤原', 'ふじわら'], ['近藤', 'こんどう'], ['石川', 'いしかわ'], ['前田', 'まえだ'], ['京極', 'きょうごく'], ['美濃部', 'みのべ'], ['奥田', 'おくだ'], ['日野', 'ひの'],
]
export const MALE: readonly Parts[] = [
  ['太郎', 'たろう'], ['一郎', 'いちろう'], ['健太', 'けんた'], ['大輔', 'だいすけ'], ['誠', 'まこと'], ['浩二', 'こうじ'],
  ['拓也', 'たくや'], ['直樹', 'なおき'], ['和夫', 'かずお'], ['正雄', 'まさお'], ['隆', 'たかし'], ['五郎', 'ごろう'],
  ['京介', 'きょうすけ'], ['本輝', 'もとき'], ['健一', 'けんいち'],
]
export const FEMALE: readonly Parts[] = [
  ['花子', 'はなこ'], ['陽子', 'ようこ'], ['恵子', 'けいこ'], ['美咲', 'みさき'], ['由美', 'ゆみ'], ['美穂', 'みほ'],
  ['裕子', 'ゆうこ'], ['明美', 'あけみ'], ['愛', 'あい'], ['京子', 'きょうこ'], ['千代', 'ちよ'], ['真由美', 'まゆみ'],
  ['久美子', 'くみこ'], ['幸子', 'さちこ'], ['愛子', 'あいこ'], ['厚子', 'あつこ'],
]

const PLACES: ReadonlyArray<readonly [string, string, string]> = [
  // [prefecture + city, town, postal prefix]
  ['東京都千代田区', '神田美土代町', '101'], ['東京都世田谷区', '宮坂', '156'], ['神奈川県横浜市青葉区', '美しが丘', '225'],
  ['大阪府大阪市北区', '本庄東', '531'], ['京都府京都市左京区', '北白川', '606'], ['愛知県名古屋市中区', '栄', '460'],
  ['福岡県福岡市中央区', '天神', '810'], ['北海道札幌市中央区', '北一条西', '060'], ['宮城県仙台市青葉区', '本町', '980'],
  ['広島県広島市中区', '紙屋町', '730'], ['静岡県静岡市葵区', '追手町', '420'], ['愛媛県松山市', '二番町', '790'],
]

const FULLWIDTH = '０１２３４５６７８９'
const fw = (n: number) => String(n).replace(/\d/g, (d) => FULLWIDTH[Number(d)])

export function toKatakana(hiragana: string): string {
  return hiragana.replace(/[\u3041-\u3096]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0x60))
}

/** Half-width katakana (JIS X 0201) of full-width katakana: what older systems keep as the phonetic name. */
export function toHalfWidth(katakana: string): string {
  const FULL = 'アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲンァィゥェォャュョッー'
  const HALF = 'ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜｦﾝｧｨｩｪｫｬｭｮｯｰ'
  let out = ''
  for (const ch of katakana.normalize('NFD')) {
    const i = FULL.indexOf(ch)
    if (i >= 0) out += HALF[i]
    else if (ch === '\u3099') out += 'ﾞ'
    else if (ch === '\u309A') out += 'ﾟ'
    else out += ch
  }
  return out
}

const ROMAJI: Record<string, string> = {
  ア: 'a', イ: 'i', ウ: 'u', エ: 'e', オ: 'o', カ: 'ka', キ: 'ki', ク: 'ku', ケ: 'ke', コ: 'ko', サ: 'sa', シ: 'shi', ス: 'su', セ: 'se', ソ: 'so',
  タ: 'ta', チ: 'chi', ツ: 'tsu', テ: 'te', ト: 'to', ナ: 'na', ニ: 'ni', ヌ: 'nu', ネ: 'ne', ノ: 'no', ハ: 'ha', ヒ: 'hi', フ: 'fu', ヘ: 'he', ホ: 'ho',
  マ: 'ma', ミ: 'mi', ム: 'mu', メ: 'me', モ: 'mo', ヤ: 'ya', ユ: 'yu', ヨ: 'yo', ラ: 'ra', リ: 'ri', ル: 'ru', レ: 're', ロ: 'ro', ワ: 'wa', ヲ: 'o', ン: 'n',
  ガ: 'ga', ギ: 'gi', グ: 'gu', ゲ: 'ge', ゴ: 'go', ザ: 'za', ジ: 'ji', ズ: 'zu', ゼ: 'ze', ゾ: 'zo', ダ: 'da', ヂ: 'ji', ヅ: 'zu', デ: 'de', ド: 'do',
  バ: 'ba', ビ: 'bi', ブ: 'bu', ベ: 'be', ボ: 'bo', パ: 'pa', ピ: 'pi', プ: 'pu', ペ: 'pe', ポ: 'po',
}
const SMALL: Record<string, string> = { ャ: 'ya', ュ: 'yu', ョ: 'yo' }

/** Katakana to Hepburn romaji, upper case as HIS systems store it (long vowels not marked). */
export function toRomaji(katakana: string): string {
  let out = ''
  const chars = [...katakana]
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]
    const next = chars[i + 1]
    if (ch === 'ッ') {
      const r = next ? ROMAJI[next] : undefined
      if (r) out += r[0] === 'c' ? 't' : r[0]
      continue
    }
    if (ch === 'ー') continue
    let r = ROMAJI[ch] ?? ''
    if (next && SMALL[next]) {
      const y = SMALL[next]
      r = r === 'shi' ? 'sh' + y[1] : r === 'chi' ? 'ch' + y[1] : r === 'ji' ? 'j' + y[1] : r.slice(0, -1) + y
      i++
    }
    out += r
  }
  return out.toUpperCase()
}

export interface SynthPerson {
  patientId: string
  family: { kanji: string; kana: string }
  given: { kanji: string; kana: string }
  sex: 'M' | 'F'
  /** YYYYMMDD */
  birthDate: string
  postalCode: string
  address: string
  phone: string
}

const pad = (n: number, w: number) => String(n).padStart(w, '0')

/** One made-up patient, drawn from its own stream so patients do not depend on each other. */
export function synthPerson(seed: number, index: number, patientId: string): SynthPerson {
  const rng = Prng.for(seed, 'ssmix2-person', index)
  const sex = rng.chance(0.5) ? 'M' : 'F'
  const f = rng.pick(FAMILY)
  const g = rng.pick(sex === 'M' ? MALE : FEMALE)
  const birth = new Date(Date.UTC(1930, 0, 1) + rng.int(0, 75 * 365) * 86_400_000)
  const [city, town, zip] = rng.pick(PLACES)
  const address = `${city}${town}${fw(rng.int(1, 9))}丁目${fw(rng.int(1, 30))}番${fw(rng.int(1, 20))}号`
  const phone = rng.chance(0.5) ? `090-${pad(rng.int(1000, 9999), 4)}-${pad(rng.int(0, 9999), 4)}` : `0${rng.int(3, 99)}-${pad(rng.int(100, 999), 3)}-${pad(rng.int(0, 9999), 4)}`
  return {
    patientId,
    family: { kanji: f[0], kana: toKatakana(f[1]) },
    given: { kanji: g[0], kana: toKatakana(g[1]) },
    sex,
    birthDate: `${birth.getUTCFullYear()}${pad(birth.getUTCMonth() + 1, 2)}${pad(birth.getUTCDate(), 2)}`,
    postalCode: `${zip}-${pad(rng.int(0, 9999), 4)}`,
    address,
    phone,
  }
}

export interface SynthStaff {
  id: string
  family: string
  given: string
}

/** A small fixed roster per seed: endoscopists, radiologists, pathologists (their names are identifiers too). */
export function synthStaff(seed: number, role: 'endoscopist' | 'radiologist' | 'pathologist', n = 6): SynthStaff[] {
  const rng = Prng.for(seed, 'ssmix2-staff', role)
  const out: SynthStaff[] = []
  for (let i = 0; i < n; i++) {
    const f = rng.pick(FAMILY)
    const g = rng.pick(rng.chance(0.6) ? MALE : FEMALE)
    out.push({ id: `D${role[0].toUpperCase()}${pad(rng.int(1000, 9999), 4)}`, family: f[0], given: g[0] })
  }
  return out
}
