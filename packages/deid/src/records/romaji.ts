/**
 * @module Kana → romaji, so a subject known to the source only in kanji and kana is also found when free text
 * spells the name in Latin letters ("Yamada Taro san"). Both common systems are produced: Hepburn (shi, chi,
 * tsu, fu, ji) and Kunrei (si, ti, tu, hu, zi); long vowels are left to the matchers' romaji folding.
 */

const BASE: Record<string, [string, string?]> = {
  あ: ['a'], い: ['i'], う: ['u'], え: ['e'], お: ['o'],
  か: ['ka'], き: ['ki'], く: ['ku'], け: ['ke'], こ: ['ko'],
  さ: ['sa'], し: ['shi', 'si'], す: ['su'], せ: ['se'], そ: ['so'],
  た: ['ta'], ち: ['chi', 'ti'], つ: ['tsu', 'tu'], て: ['te'], と: ['to'],
  な: ['na'], に: ['ni'], ぬ: ['nu'], ね: ['ne'], の: ['no'],
  は: ['ha'], ひ: ['hi'], ふ: ['fu', 'hu'], へ: ['he'], ほ: ['ho'],
  ま: ['ma'], み: ['mi'], む: ['mu'], め: ['me'], も: ['mo'],
  や: ['ya'], ゆ: ['yu'], よ: ['yo'],
  ら: ['ra'], り: ['ri'], る: ['ru'], れ: ['re'], ろ: ['ro'],
  わ: ['wa'], ゐ: ['i'], ゑ: ['e'], を: ['o', 'wo'], ん: ['n'],
  が: ['ga'], ぎ: ['gi'], ぐ: ['gu'], げ: ['ge'], ご: ['go'],
  ざ: ['za'], じ: ['ji', 'zi'], ず: ['zu'], ぜ: ['ze'], ぞ: ['zo'],
  だ: ['da'], ぢ: ['ji', 'zi'], づ: ['zu'], で: ['de'], ど: ['do'],
  ば: ['ba'], び: ['bi'], ぶ: ['bu'], べ: ['be'], ぼ: ['bo'],
  ぱ: ['pa'], ぴ: ['pi'], ぷ: ['pu'], ぺ: ['pe'], ぽ: ['po'],
  ぁ: ['a'], ぃ: ['i'], ぅ: ['u'], ぇ: ['e'], ぉ: ['o'], ゔ: ['vu'],
}

/** Contracted sounds (yōon): き+ゃ → kya; し+ゃ → sha (Hepburn) / sya (Kunrei). */
const SMALL_Y: Record<string, string> = { ゃ: 'a', ゅ: 'u', ょ: 'o' }

function toHiragana(s: string): string {
  let out = ''
  for (const ch of s.normalize('NFKC')) {
    const c = ch.codePointAt(0)!
    out += c >= 0x30a1 && c <= 0x30f6 ? String.fromCodePoint(c - 0x60) : ch
  }
  return out
}

/** One kana word in one system (0 Hepburn, 1 Kunrei); undefined when it holds anything but kana. */
function romanize(kana: string, system: 0 | 1): string | undefined {
  const s = [...toHiragana(kana)]
  let out = ''
  let geminate = false
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!
    if (c === 'っ') { geminate = true; continue }
    if (c === 'ー') { out += out.at(-1) ?? ''; continue }
    const base = BASE[c]
    if (!base) return undefined
    let syl = base[system] ?? base[0]
    const y = SMALL_Y[s[i + 1] ?? '']
    if (y && syl.endsWith('i') && syl.length > 1) {
      // し+ゃ: Hepburn drops the i (sha, cha, ja); Kunrei and the rest write y (sya, kya).
      syl = /^(sh|ch|j)i$/.test(syl) ? syl.slice(0, -1) + y : syl.slice(0, -1) + 'y' + y
      i++
    }
    if (geminate) {
      syl = (syl.startsWith('ch') ? 't' : syl[0]) + syl
      geminate = false
    }
    out += syl
  }
  // ん before a vowel or y is written n' in both systems; matching ignores the apostrophe anyway.
  return out
}

/** The romaji spellings of a kana name (each word separately and the whole), Hepburn and Kunrei; [] if not kana. */
export function romajiOf(kana: string): string[] {
  const words = kana.split(/[\s\u3000^・･]+/).filter(Boolean)
  const out = new Set<string>()
  for (const system of [0, 1] as const) {
    const parts = words.map((w) => romanize(w, system))
    if (parts.some((p) => p === undefined || p === '')) return []
    out.add(parts.join(' '))
    for (const p of parts) out.add(p!)
  }
  return [...out]
}
