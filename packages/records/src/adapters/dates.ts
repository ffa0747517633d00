/**
 * @module Date formats of vendor exports → ISO dates of the record (`YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS]`).
 * Patterns use yyyy, MM/M, dd/d, HH/H, mm, ss and literal text (`yyyy/MM/dd`, `yyyyMMdd`, `yyyy年M月d日 H:mm`);
 * `era` reads Japanese era dates as Japanese systems write them: 令和5年4月1日, 令和元年5月1日, R05.04.01, R5/4/1,
 * H31-04-30, optionally followed by a time. Full-width digits are read as ASCII (NFKC). The era table is kept
 * here rather than imported from @kura/deid, which depends on this package.
 */

export type DateParser = (text: string) => string | undefined

/** First day (YYYYMMDD) of each era; an era runs until the day before the next begins. */
const ERAS: ReadonlyArray<{ start: string; kanji: string; letter: string }> = [
  { start: '18680125', kanji: '明治', letter: 'M' },
  { start: '19120730', kanji: '大正', letter: 'T' },
  { start: '19261225', kanji: '昭和', letter: 'S' },
  { start: '19890108', kanji: '平成', letter: 'H' },
  { start: '20190501', kanji: '令和', letter: 'R' },
]

const pad = (n: number, w = 2): string => String(n).padStart(w, '0')

function realDate(y: number, m: number, d: number): boolean {
  return y >= 1 && m >= 1 && m <= 12 && d >= 1 && d <= new Date(Date.UTC(y, m, 0)).getUTCDate()
}

function iso(y: number, m: number, d: number, hh?: string, mi?: string, ss?: string): string | undefined {
  if (!realDate(y, m, d)) return undefined
  let out = `${pad(y, 4)}-${pad(m)}-${pad(d)}`
  if (hh !== undefined && mi !== undefined) {
    if (+hh > 23 || +mi > 59 || (ss !== undefined && +ss > 59)) return undefined
    out += `T${pad(+hh)}:${pad(+mi)}${ss !== undefined ? `:${pad(+ss)}` : ''}`
  }
  return out
}

/** Gregorian Y/M/D of an era date, or undefined when that day does not exist in that era (平成1年1月7日). */
export function eraToGregorian(eraKanjiOrLetter: string, year: number, month: number, day: number): [number, number, number] | undefined {
  const i = ERAS.findIndex((e) => e.kanji === eraKanjiOrLetter || e.letter === eraKanjiOrLetter.toUpperCase())
  if (i < 0 || year < 1) return undefined
  const y = +ERAS[i]!.start.slice(0, 4) + year - 1
  if (!realDate(y, month, day)) return undefined
  const s = `${pad(y, 4)}${pad(month)}${pad(day)}`
  if (s < ERAS[i]!.start || (i + 1 < ERAS.length && s >= ERAS[i + 1]!.start)) return undefined
  return [y, month, day]
}

/** The era form of a Gregorian date: `{ kanji: '令和', letter: 'R', year: 5 }`; for writers (the generator). */
export function gregorianToEra(y: number, m: number, d: number): { kanji: string; letter: string; year: number } | undefined {
  const s = `${pad(y, 4)}${pad(m)}${pad(d)}`
  for (let i = ERAS.length - 1; i >= 0; i--) if (s >= ERAS[i]!.start) return { kanji: ERAS[i]!.kanji, letter: ERAS[i]!.letter, year: y - +ERAS[i]!.start.slice(0, 4) + 1 }
  return undefined
}

const TIME = String.raw`(?:[\sT　]+(\d{1,2})[:時](\d{2})(?:[:分](\d{2}))?秒?)?`
const ERA_RE = new RegExp(String.raw`^(明治|大正|昭和|平成|令和|[MTSHRmtshr])\s*(元|\d{1,2})\s*(?:年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日|[./\-](\d{1,2})[./\-](\d{1,2}))` + TIME + '$')

function parseEra(text: string): string | undefined {
  const m = ERA_RE.exec(text)
  if (!m) return undefined
  const year = m[2] === '元' ? 1 : +m[2]!
  const g = eraToGregorian(m[1]!, year, +(m[3] ?? m[5])!, +(m[4] ?? m[6])!)
  return g && iso(g[0], g[1], g[2], m[7], m[8], m[9])
}

const TOKENS: Array<[string, string, string]> = [
  ['yyyy', String.raw`(\d{4})`, 'y'], ['MM', String.raw`(\d{2})`, 'M'], ['M', String.raw`(\d{1,2})`, 'M'],
  ['dd', String.raw`(\d{2})`, 'd'], ['d', String.raw`(\d{1,2})`, 'd'], ['HH', String.raw`(\d{2})`, 'H'],
  ['H', String.raw`(\d{1,2})`, 'H'], ['mm', String.raw`(\d{2})`, 'm'], ['ss', String.raw`(\d{2})`, 's'],
]

/** Compiles one date format; throws with a message naming what is wrong in it. */
export function compileDateFormat(format: string): DateParser {
  if (format === 'era') return (text) => parseEra(text.normalize('NFKC').trim())
  let re = '^'
  const order: string[] = []
  for (let i = 0; i < format.length;) {
    const tok = TOKENS.find(([t]) => format.startsWith(t, i))
    if (tok) {
      re += tok[1]
      order.push(tok[2])
      i += tok[0].length
    } else {
      re += format[i]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/^ $/, '\\s+')
      i++
    }
  }
  if (!order.includes('y') || !order.includes('M') || !order.includes('d')) throw new Error(`format "${format}" needs yyyy, M(M) and d(d), or is "era"`)
  const rx = new RegExp(`${re}$`)
  return (text) => {
    const m = rx.exec(text.normalize('NFKC').trim())
    if (!m) return undefined
    const v: Record<string, string> = {}
    order.forEach((k, j) => (v[k] = m[j + 1]!))
    return iso(+v.y!, +v.M!, +v.d!, v.H, v.m, v.s)
  }
}
