/** @module Tests for verification normalisation: widths, kana folding, separators, romaji vowels and era dates. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { dateVariants, foldRomaji, fromEra, katakanaToHiragana, normalizeLoose, normalizeText, toEra } from './normalize.ts'

test('full-width ASCII becomes ASCII, case folded', () => {
  assert.equal(normalizeText('ＹＡＭＡＤＡ＾ＴＡＲＯＵ'), 'yamadatarou')
  assert.equal(normalizeText('ＩＤ１２３４５'), 'id12345')
  assert.equal(normalizeText('Yamada^Tarou'), normalizeText('yamada tarou'))
})

test('half-width katakana, full-width katakana and hiragana meet', () => {
  assert.equal(normalizeText('ﾔﾏﾀﾞ ﾀﾛｳ'), 'やまだたろう')
  assert.equal(normalizeText('ヤマダ^タロウ'), 'やまだたろう')
  assert.equal(normalizeText('やまだ＝たろう'), 'やまだたろう')
  assert.equal(katakanaToHiragana('ガギグヴヶ'), 'がぎぐゔゖ')
  assert.equal(normalizeText('ｶﾞｯｺｳ'), normalizeText('がっこう'))
})

test('separators are removed: ^ = spaces (incl. U+3000) - . / ・', () => {
  assert.equal(normalizeText('山田\u3000太郎'), '山田太郎')
  assert.equal(normalizeText('ヤマダ・タロウ'), 'やまだたろう')
  assert.equal(normalizeText('ﾔﾏﾀﾞ･ﾀﾛｳ'), 'やまだたろう')
  assert.equal(normalizeText('12-34.56/78 90'), '1234567890')
  assert.equal(normalizeText('１２－３４'), '1234')
  // The loose form keeps separators other than whitespace.
  assert.equal(normalizeLoose('昭和 55年 3月 1日'), '昭和55年3月1日')
  assert.equal(normalizeLoose('Ｓ５５．３．１'), 's55.3.1')
})

test('romaji long vowels fold together', () => {
  for (const v of ['tarou', 'taroo', 'taroh', 'taro']) assert.equal(foldRomaji(v), 'taro', v)
  assert.equal(foldRomaji('yuuko'), 'yuko')
  assert.equal(foldRomaji('ohara'), 'ohara', 'oh before a vowel is a consonant')
})

test('era boundaries, Gregorian → era', () => {
  assert.deepEqual(toEra('19121230'), { era: 'taisho', year: 1, month: 12, day: 30 })
  assert.deepEqual(toEra('19261224'), { era: 'taisho', year: 15, month: 12, day: 24 })
  assert.deepEqual(toEra('19261225'), { era: 'showa', year: 1, month: 12, day: 25 })
  assert.deepEqual(toEra('19890107'), { era: 'showa', year: 64, month: 1, day: 7 })
  assert.deepEqual(toEra('19890108'), { era: 'heisei', year: 1, month: 1, day: 8 })
  assert.deepEqual(toEra('19900105'), { era: 'heisei', year: 2, month: 1, day: 5 })
  assert.deepEqual(toEra('20190430'), { era: 'heisei', year: 31, month: 4, day: 30 })
  assert.deepEqual(toEra('20190501'), { era: 'reiwa', year: 1, month: 5, day: 1 })
  assert.deepEqual(toEra('19800301'), { era: 'showa', year: 55, month: 3, day: 1 })
  assert.equal(toEra('18000101'), undefined)
  assert.equal(toEra('19890230'), undefined)
})

test('era boundaries, era → Gregorian, rejecting dates outside the era', () => {
  assert.equal(fromEra('showa', 1, 12, 25), '19261225')
  assert.equal(fromEra('showa', 1, 12, 24), undefined)
  assert.equal(fromEra('showa', 64, 1, 7), '19890107')
  assert.equal(fromEra('showa', 64, 1, 8), undefined)
  assert.equal(fromEra('heisei', 1, 1, 7), undefined)
  assert.equal(fromEra('heisei', 1, 1, 8), '19890108')
  assert.equal(fromEra('heisei', 31, 4, 30), '20190430')
  assert.equal(fromEra('heisei', 31, 5, 1), undefined)
  assert.equal(fromEra('reiwa', 1, 4, 30), undefined)
  assert.equal(fromEra('reiwa', 1, 5, 1), '20190501')
  assert.equal(fromEra('taisho', 15, 12, 24), '19261224')
  assert.equal(fromEra('taisho', 15, 12, 25), undefined)
  assert.equal(fromEra('showa', 55, 2, 30), undefined)
  // Round trip across a span of days around each boundary.
  for (const start of ['19261220', '19890103', '20190426']) {
    const t0 = Date.UTC(+start.slice(0, 4), +start.slice(4, 6) - 1, +start.slice(6))
    for (let k = 0; k < 12; k++) {
      const d = new Date(t0 + k * 86400000)
      const s = `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`
      const e = toEra(s)!
      assert.equal(fromEra(e.era, e.year, e.month, e.day), s, s)
    }
  }
})

test('date variants of a DOB', () => {
  const v = dateVariants('19800301')
  for (const w of ['1980-03-01', '1980/3/1', '1980.03.01', '1980年3月1日', '1980年03月01日', '昭和55年3月1日', 's55.3.1', 's55/03/01', '昭和55.3.1']) {
    assert.ok(v.includes(w), w)
  }
  assert.ok(dateVariants('19900105').includes('h2/1/5'))
  assert.ok(dateVariants('20190501').includes('r1.5.1'))
  assert.ok(dateVariants('20190501').includes('令和元年5月1日'))
  assert.ok(dateVariants('19890107').includes('昭和64年1月7日'))
  assert.ok(dateVariants('19890108').includes('平成元年1月8日'))
  assert.ok(!dateVariants('19890108').some((x) => x.startsWith('昭和')))
  assert.deepEqual(dateVariants('1980'), [])
})
