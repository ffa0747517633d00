/** Kappa and percent agreement against cases worked by hand (the arithmetic is in the comments). */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { cohenKappa, fleissKappa, perLabelKappa, type RatingPair } from './kappa.ts'

const close = (actual: number | null, expected: number, what: string) => {
  assert.ok(actual !== null, `${what} is null`)
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} ≠ ${expected}`)
}
const repeat = (pair: RatingPair, n: number): RatingPair[] => Array.from({ length: n }, () => pair)

describe("Cohen's kappa", () => {
  it('ten items, two categories', () => {
    // Items 1–5 (X,X), 6 (X,Y), 7–9 (Y,Y), 10 (Y,X). p_o = 8/10 = 0.8.
    // A: X 6, Y 4. B: X 5+1 = 6, Y 1+3 = 4. p_e = 0.6·0.6 + 0.4·0.4 = 0.52.
    // κ = (0.8 − 0.52) / (1 − 0.52) = 0.28 / 0.48 = 7/12.
    const r = cohenKappa([...repeat(['X', 'X'], 5), ['X', 'Y'], ...repeat(['Y', 'Y'], 3), ['Y', 'X']])
    assert.equal(r.items, 10)
    close(r.percentAgreement.value, 0.8, 'p_o')
    close(r.kappa.value, 7 / 12, 'kappa')
  })

  it('fifty items: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no', () => {
    // p_o = 35/50 = 0.7. A yes 25/50 = 0.5, B yes 30/50 = 0.6.
    // p_e = 0.5·0.6 + 0.5·0.4 = 0.5. κ = (0.7 − 0.5)/(1 − 0.5) = 0.4.
    const r = cohenKappa([...repeat(['yes', 'yes'], 20), ...repeat(['yes', 'no'], 5), ...repeat(['no', 'yes'], 10), ...repeat(['no', 'no'], 15)])
    close(r.kappa.value, 0.4, 'kappa')
    close(r.percentAgreement.value, 0.7, 'p_o')
  })

  it('three categories, with one rater using a category the other never does', () => {
    // (a,a) (b,b) (c,a) (a,a): p_o = 3/4. A: a 2, b 1, c 1; B: a 3, b 1.
    // p_e = (2/4)(3/4) + (1/4)(1/4) + (1/4)(0) = 6/16 + 1/16 = 7/16.
    // κ = (12/16 − 7/16)/(9/16) = 5/9.
    const r = cohenKappa([['a', 'a'], ['b', 'b'], ['c', 'a'], ['a', 'a']])
    close(r.kappa.value, 5 / 9, 'kappa')
  })

  it('complete disagreement between two balanced raters is −1', () => {
    // (X,Y) (Y,X): p_o = 0; p_e = 0.5·0.5 + 0.5·0.5 = 0.5; κ = (0 − 0.5)/0.5 = −1.
    close(cohenKappa([['X', 'Y'], ['Y', 'X']]).kappa.value, -1, 'kappa')
  })

  it('all ratings in one category: agreement 1, kappa undefined with a reason (never NaN)', () => {
    const r = cohenKappa(repeat(['X', 'X'], 4))
    close(r.percentAgreement.value, 1, 'p_o')
    assert.equal(r.kappa.value, null)
    assert.match(r.kappa.reason!, /chance agreement is 1/)
    assert.ok(!JSON.stringify(r).includes('NaN'))
  })

  it('no items rated by both: null with a reason', () => {
    const r = cohenKappa([])
    assert.equal(r.items, 0)
    assert.equal(r.kappa.value, null)
    assert.equal(r.percentAgreement.value, null)
    assert.match(r.kappa.reason!, /no item/)
  })
})

describe("Fleiss' kappa", () => {
  it('three raters, four items', () => {
    // P_i = (Σ n_ij² − n)/(n(n − 1)), n = 3:
    // (a,a,a): (9 − 3)/6 = 1; (a,a,b): (4 + 1 − 3)/6 = 1/3; (b,b,b): 1; (a,b,b): 1/3. P̄ = (8/3)/4 = 2/3.
    // a: 3 + 2 + 0 + 1 = 6, b: 6, of 12 → p_a = p_b = 1/2, P̄e = 1/4 + 1/4 = 1/2.
    // κ = (2/3 − 1/2)/(1/2) = 1/3.
    const r = fleissKappa([['a', 'a', 'a'], ['a', 'a', 'b'], ['b', 'b', 'b'], ['a', 'b', 'b']])
    assert.equal(r.items, 4)
    assert.equal(r.ratings, 12)
    close(r.percentAgreement.value, 2 / 3, 'P̄')
    close(r.kappa.value, 1 / 3, 'kappa')
  })

  it("Fleiss (1971) worked example as tabulated on Wikipedia: 10 items, 14 raters, 5 categories", () => {
    const table = [
      [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
      [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ]
    // P_i·182 = Σ n_ij² − 14: 182, 46, 56, 80, 60, 84, 44, 32, 52, 52 → Σ = 688; P̄ = 688/1820 = 0.378022…
    // column totals 20, 28, 39, 21, 32 of 140 → P̄e = (400 + 784 + 1521 + 441 + 1024)/19600 = 4170/19600.
    // κ = (688/1820 − 4170/19600)/(1 − 4170/19600) = 0.209930…
    const items = table.map((row) => row.flatMap((k, j) => Array.from({ length: k }, () => `c${j + 1}`)))
    const r = fleissKappa(items)
    const pBar = 688 / 1820
    const pe = 4170 / 19600
    close(r.percentAgreement.value, pBar, 'P̄')
    close(r.kappa.value, (pBar - pe) / (1 - pe), 'kappa')
    assert.equal(r.kappa.value!.toFixed(3), '0.210')
  })

  it('items with different numbers of ratings weight categories by ratings; single ratings are left out', () => {
    // (a,a): P = (4 − 2)/2 = 1; (a,b,b): (1 + 4 − 3)/6 = 1/3; (b) left out. P̄ = 2/3.
    // a 3, b 2 of 5: P̄e = 9/25 + 4/25 = 13/25. κ = (2/3 − 13/25)/(12/25) = (50/75 − 39/75)/(36/75) = 11/36.
    const r = fleissKappa([['a', 'a'], ['a', 'b', 'b'], ['b']])
    assert.equal(r.items, 2)
    close(r.kappa.value, 11 / 36, 'kappa')
  })

  it('everyone agrees on one category: kappa undefined, agreement 1', () => {
    const r = fleissKappa([['a', 'a', 'a'], ['a', 'a', 'a']])
    assert.equal(r.kappa.value, null)
    assert.match(r.kappa.reason!, /undefined/)
    close(r.percentAgreement.value, 1, 'P̄')
  })

  it('no ratings at all', () => {
    const r = fleissKappa([])
    assert.equal(r.kappa.value, null)
    assert.equal(r.items, 0)
  })
})

describe('one-vs-rest kappa per label', () => {
  it('two raters, three items, multi-label sets', () => {
    // item1 {a}/{a}, item2 {a}/{b}, item3 {b}/{b}.
    // Label a: yes/yes, yes/no, no/no → P_i 1, 0, 1, P̄ = 2/3; yes 3, no 3 → P̄e = 1/2; κ = 1/3. Same for b.
    const r = perLabelKappa([[['a'], ['a']], [['a'], ['b']], [['b'], ['b']]])
    assert.deepEqual(r.map((l) => l.label), ['a', 'b'])
    close(r[0]!.kappa.value, 1 / 3, 'kappa a')
    close(r[1]!.kappa.value, 1 / 3, 'kappa b')
    assert.equal(r[0]!.positives, 3)
  })

  it('a label inside a multi-label reading counts as present', () => {
    // item1 {a,c}/{c}, item2 {a}/{a}. Label c: yes/yes, no/no → P̄ = 1; yes 2, no 2 → P̄e = 1/2; κ = 1.
    // Label a: yes/no, yes/yes → P̄ = (0 + 1)/2 = 1/2; yes 3, no 1 → P̄e = 9/16 + 1/16 = 10/16; κ = (8/16 − 10/16)/(6/16) = −1/3.
    const r = perLabelKappa([[['a', 'c'], ['c']], [['a'], ['a']]])
    close(r.find((l) => l.label === 'c')!.kappa.value, 1, 'kappa c')
    close(r.find((l) => l.label === 'a')!.kappa.value, -1 / 3, 'kappa a')
  })
})
