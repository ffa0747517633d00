/** A task's agreement report assembled from readers' work, against numbers worked out by hand. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { Geometry } from '../../annotations/model.ts'
import { agreementCsv } from './csv.ts'
import { taskAgreement } from './task-agreement.ts'

const rect = (x0: number, y0: number, x1: number, y1: number): Geometry => ({ type: 'Polygon', coordinates: [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]] })
const close = (actual: number | null | undefined, expected: number, what: string) => {
  assert.ok(actual !== null && actual !== undefined, `${what} is missing`)
  assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual} ≠ ${expected}`)
}

describe('task agreement report', () => {
  // Two readers u1, u2 on items i1–i3 (all submitted), u3 on i1 only but not submitted.
  const submitted = new Map([['i1', ['u1', 'u2']], ['i2', ['u1', 'u2']], ['i3', ['u1', 'u2']]])
  const imageLabels = [
    { item: 'i1', rater: 'u1', label: 'G:X' }, { item: 'i1', rater: 'u2', label: 'G:X' },
    { item: 'i2', rater: 'u1', label: 'G:X' }, { item: 'i2', rater: 'u2', label: 'G:Y' },
    { item: 'i3', rater: 'u1', label: 'G:Y' }, { item: 'i3', rater: 'u2', label: 'G:Y' },
    { item: 'i1', rater: 'u3', label: 'G:Y' }, // not submitted: ignored
  ]
  const annotations = [
    // i1 tumour: u1 [0,10]², u2 [5,15]×[0,10] → Dice 0.5, IoU 1/3.
    { item: 'i1', rater: 'u1', label: 'T:tumour', geometry: rect(0, 0, 10, 10) },
    { item: 'i1', rater: 'u2', label: 'T:tumour', geometry: rect(5, 0, 15, 10) },
    // i2 tumour: u1 draws two pieces [0,5]×[0,10] and [5,10]×[0,10] (union [0,10]²), u2 [0,10]² → 1, 1.
    { item: 'i2', rater: 'u1', label: 'T:tumour', geometry: rect(0, 0, 5, 10) },
    { item: 'i2', rater: 'u1', label: 'T:tumour', geometry: rect(5, 0, 10, 10) },
    { item: 'i2', rater: 'u2', label: 'T:tumour', geometry: rect(0, 0, 10, 10) },
    // i2 stroma: only u1 → 0, 0.
    { item: 'i2', rater: 'u1', label: 'T:stroma', geometry: rect(20, 20, 30, 30) },
    // i3: nobody drew a region → label null entry, 1 by convention.
    // i3 points: u1 (0,0) (10,0); u2 (1,0) → matched 1, F1 = 2/3.
    { item: 'i3', rater: 'u1', label: 'T:lymphocyte', geometry: { type: 'Point', coordinates: [0, 0] } as Geometry },
    { item: 'i3', rater: 'u1', label: 'T:lymphocyte', geometry: { type: 'Point', coordinates: [10, 0] } as Geometry },
    { item: 'i3', rater: 'u2', label: 'T:lymphocyte', geometry: { type: 'Point', coordinates: [1, 0] } as Geometry },
    { item: 'i3', rater: 'u3', label: 'T:tumour', geometry: rect(0, 0, 1, 1) }, // not submitted: ignored
  ]
  const r = taskAgreement({ submitted, imageLabels, annotations, regions: true, pointRadius: 3 })

  it('image labels: Cohen, Fleiss and per-label kappa', () => {
    // Pairs (X,X) (X,Y) (Y,Y): p_o = 2/3; u1 X 2/3 Y 1/3, u2 X 1/3 Y 2/3; p_e = 2/9 + 2/9 = 4/9.
    // Cohen κ = (2/3 − 4/9)/(5/9) = (2/9)/(5/9) = 0.4.
    assert.deepEqual(r.raters, ['u1', 'u2'])
    assert.equal(r.imageLabels.pairs.length, 1)
    close(r.imageLabels.pairs[0]!.kappa.value, 0.4, 'cohen')
    // Fleiss pools the marginals: X 3, Y 3 → P̄e = 1/2; P̄ = (1 + 0 + 1)/3 = 2/3; κ = (1/6)/(1/2) = 1/3.
    close(r.imageLabels.overall.kappa.value, 1 / 3, 'fleiss')
    // One-vs-rest for X: yes/yes, yes/no, no/no — the same table, κ = 1/3.
    close(r.imageLabels.perLabel.find((l) => l.label === 'G:X')!.kappa.value, 1 / 3, 'X vs rest')
  })

  it('regions: per item, per pair and label, per label, per annotator', () => {
    const entry = (item: string, label: string | null) => r.regions.perItem.find((e) => e.item === item && e.label === label)!
    close(entry('i1', 'T:tumour').dice.value, 0.5, 'i1 dice')
    close(entry('i1', 'T:tumour').iou.value, 1 / 3, 'i1 iou')
    close(entry('i2', 'T:tumour').dice.value, 1, 'i2 dice (union of pieces)')
    close(entry('i2', 'T:stroma').dice.value, 0, 'i2 stroma')
    close(entry('i3', null).dice.value, 1, 'i3 both empty')
    assert.equal(r.regions.perItem.length, 4)
    // Pair u1–u2, tumour: mean Dice (0.5 + 1)/2 = 0.75; mean IoU (1/3 + 1)/2 = 2/3.
    const tumour = r.regions.pairs.find((p) => p.label === 'T:tumour')!
    close(tumour.dice.value, 0.75, 'pair tumour dice')
    close(tumour.iou.value, 2 / 3, 'pair tumour iou')
    assert.equal(tumour.items, 2)
    // All labels: entries 0.5, 1, 0, 1 → Dice 2.5/4 = 0.625; IoU (1/3 + 1 + 0 + 1)/4 = 7/12.
    const all = r.regions.pairs.find((p) => p.label === null)!
    close(all.dice.value, 0.625, 'pair dice')
    close(all.iou.value, 7 / 12, 'pair iou')
    assert.equal(all.items, 3)
    close(r.regions.perLabel.find((l) => l.label === 'T:stroma')!.dice.value, 0, 'stroma')
    close(r.regions.perAnnotator.find((a) => a.rater === 'u1')!.dice.value, 0.625, 'u1 mean dice')
  })

  it('points: matched within the radius', () => {
    // u1 (0,0) (10,0) vs u2 (1,0): one match, F1 = 2·1/(2 + 1) = 2/3.
    const p = r.points.pairs.find((x) => x.label === 'T:lymphocyte')!
    assert.equal(p.matched, 1)
    close(p.f1.value, 2 / 3, 'f1')
  })

  it('CSV: one metric per row, undefined values empty with the reason', () => {
    const csv = agreementCsv(r, (id) => `user-${id}`)
    const lines = csv.trim().split('\r\n')
    assert.equal(lines[0], 'scope,label,rater_a,rater_b,metric,value,n,reason')
    const cohen = lines.find((l) => l.startsWith('image-labels,,user-u1,user-u2,cohen_kappa,'))!.split(',')
    close(Number(cohen[5]), 0.4, 'cohen in CSV')
    assert.equal(cohen[6], '3')
    assert.ok(lines.includes('regions,T:tumour,user-u1,user-u2,dice,0.75,2,'), csv)
  })

  it('nothing submitted: every kappa null with a reason, no NaN anywhere', () => {
    const empty = taskAgreement({ submitted: new Map(), imageLabels: [], annotations: [], regions: true, pointRadius: 5 })
    assert.equal(empty.imageLabels.overall.kappa.value, null)
    assert.ok(empty.imageLabels.overall.kappa.reason)
    assert.deepEqual(empty.regions.perItem, [])
    assert.ok(!JSON.stringify(empty).includes('NaN'))
    assert.ok(!agreementCsv(empty).includes('NaN'))
  })
})
