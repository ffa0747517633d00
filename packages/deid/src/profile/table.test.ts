import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { isKuraError } from '@kura/core'
import { buildTable, ruleFor, ruleTable } from './table.ts'
import { concreteTag, SHARED } from './testkit.ts'

const bundled = JSON.parse(readFileSync(new URL('./e1-1.data.json', import.meta.url), 'utf8'))

test('bundled copy records source and edition and has the 621 rows of the 2024b table', () => {
  assert.equal(bundled.edition, '2024b')
  assert.equal(bundled.source, SHARED)
  assert.equal(bundled.rows.length, 621)
  assert.equal(bundled.rowCount, 621)
  assert.equal(ruleTable().rows, 621)
  assert.equal(ruleTable().exact.size + ruleTable().patterns.length, 621)
  assert.equal(ruleTable().patterns.length, 4)
})

test('bundled copy is identical to the shared table', { skip: !existsSync(SHARED) && 'shared table not present' }, () => {
  assert.deepEqual(bundled.rows, JSON.parse(readFileSync(SHARED, 'utf8')))
})

test('every row is found by ruleFor on a concrete tag, with its own fields', () => {
  for (const row of bundled.rows) {
    const rule = ruleFor(concreteTag(row.tag))
    assert.ok(rule, row.tag)
    assert.equal(rule.tagText, row.tag)
    assert.equal(rule.name, row.name)
    assert.equal(rule.basic, row.basicProfile)
    assert.equal(rule.inStdCompIod, row.stdCompIOD === 'Y')
    assert.equal(rule.keyword, row.keyword)
  }
})

test('repeating-group and private patterns', () => {
  assert.equal(ruleFor(0x50000000)?.name, 'Curve Data')
  assert.equal(ruleFor(0x501e3000)?.name, 'Curve Data')
  assert.equal(ruleFor(0x60003000)?.keyword, 'OverlayData')
  assert.equal(ruleFor(0x601e3000)?.keyword, 'OverlayData')
  assert.equal(ruleFor(0x60004000)?.keyword, 'OverlayComments')
  // Other overlay attributes (rows, columns, origin) are not listed: no rule.
  assert.equal(ruleFor(0x60000010), undefined)
  assert.equal(ruleFor(0x60003001), undefined)
  // Odd groups are private, including odd 50xx/60xx groups.
  assert.equal(ruleFor(0x00091010)?.name, 'Private Attributes')
  assert.equal(ruleFor(0x00090010)?.name, 'Private Attributes')
  assert.equal(ruleFor(0x50010010)?.name, 'Private Attributes')
  assert.equal(ruleFor(0x60013000)?.name, 'Private Attributes')
  assert.equal(ruleFor(0x7fe10010)?.name, 'Private Attributes')
  // Groups 0001-0007 and FFFF are odd but not private (PS3.5 7.8.1).
  assert.equal(ruleFor(0x00030010), undefined)
  assert.equal(ruleFor(0xffff0010), undefined)
  assert.equal(ruleFor(0x00280010), undefined)
})

test('ruleFor rejects non-tags', () => {
  for (const bad of [-1, 1.5, 0x100000000, NaN]) {
    assert.throws(() => ruleFor(bad), (e: unknown) => isKuraError(e) && e.code === 'DEID_BAD_TAG')
  }
})

test('buildTable rejects malformed rows with DEID_BAD_TABLE', () => {
  const ok = { tag: '(0010,0010)', name: 'n', basicProfile: 'Z' }
  const bad = (rows: Record<string, string>[]) =>
    assert.throws(() => buildTable({ rows }), (e: unknown) => isKuraError(e) && e.code === 'DEID_BAD_TABLE' && /import-table/.test(e.message))
  assert.equal(buildTable({ rows: [ok] }).exact.size, 1)
  bad([{ ...ok, basicProfile: 'Q' }])
  bad([{ ...ok, rtnUIDsOpt: 'KK' }])
  bad([{ ...ok, newColumn: 'K' }])
  bad([{ ...ok, tag: '(0010)' }])
  bad([ok, ok])
})
