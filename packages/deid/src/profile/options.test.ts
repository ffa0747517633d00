import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isKuraError } from '@kura/core'
import { BASIC_PROFILE_CODE, methodCodes, OPTION_CODES, OPTIONS, parseOptions } from './options.ts'

test('CID 7050 codes: 113100 basic, 113101-113112 one per option, all distinct', () => {
  assert.equal(BASIC_PROFILE_CODE.codeValue, '113100')
  const values = OPTIONS.map((o) => OPTION_CODES[o].codeValue).sort()
  assert.deepEqual(values, Array.from({ length: 12 }, (_, i) => String(113101 + i)))
  assert.equal(OPTION_CODES.retainUids.codeValue, '113110')
  assert.equal(OPTION_CODES.retainSafePrivate.codeValue, '113111')
  assert.equal(OPTION_CODES.retainInstitutionIdentity.codeValue, '113112')
  assert.equal(OPTION_CODES.cleanPixelData.codeMeaning, 'Clean Pixel Data Option')
})

test('methodCodes lists the basic profile then selected options in code order', () => {
  assert.deepEqual(methodCodes(new Set(['retainUids', 'cleanPixelData'])).map((c) => c.codeValue), ['113100', '113101', '113110'])
  assert.deepEqual(methodCodes(new Set()).map((c) => c.codeValue), ['113100'])
})

test('parseOptions accepts known names and rejects unknown ones with DEID_UNKNOWN_OPTION', () => {
  assert.deepEqual([...parseOptions(['retainUids', 'cleanGraphics'])], ['retainUids', 'cleanGraphics'])
  assert.throws(() => parseOptions(['retainUIDs']), (e: unknown) => isKuraError(e) && e.code === 'DEID_UNKNOWN_OPTION' && /retainUids/.test(e.message))
})
