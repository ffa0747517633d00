/** Point matching within a radius, against counts worked out by hand. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { matchPoints } from './points.ts'

describe('point F1', () => {
  it('two of three points match within the radius', () => {
    // A (0,0) (10,0) (100,100); B (1,0) (12,0) (50,50); radius 3.
    // Distances: A0–B0 = 1 ✓, A1–B1 = 2 ✓, A1–B0 = 9, A0–B1 = 12, the rest far. Matched 2.
    // F1 = 2·2/(3 + 3) = 2/3.
    const m = matchPoints([[0, 0], [10, 0], [100, 100]], [[1, 0], [12, 0], [50, 50]], 3)
    assert.equal(m.matched, 2)
    assert.ok(Math.abs(m.f1.value! - 2 / 3) < 1e-12)
  })

  it('each point matches at most once', () => {
    // A (0,0); B (1,0) (2,0), radius 3: both B points are in reach, only one can match. F1 = 2/3.
    const m = matchPoints([[0, 0]], [[1, 0], [2, 0]], 3)
    assert.equal(m.matched, 1)
    assert.ok(Math.abs(m.f1.value! - 2 / 3) < 1e-12)
  })

  it('the radius is inclusive; just outside does not match', () => {
    assert.equal(matchPoints([[0, 0]], [[3, 4]], 5).matched, 1) // distance exactly 5
    assert.equal(matchPoints([[0, 0]], [[3, 4.01]], 5).matched, 0)
  })

  it('both empty: F1 = 1 by convention; one empty: 0', () => {
    assert.equal(matchPoints([], [], 5).f1.value, 1)
    assert.equal(matchPoints([[0, 0]], [], 5).f1.value, 0)
  })
})
