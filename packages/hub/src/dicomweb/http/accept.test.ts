/** @module Tests of DICOMweb Accept negotiation: parsing, q-values, wildcards, transfer syntaxes, the accept query parameter. */
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { parseAccept, negotiate, EXPLICIT_VR_LITTLE_ENDIAN as EVRLE, type Offer } from './accept.ts'

const JPEG_BASELINE = '1.2.840.10008.1.2.4.50'
const J2K = '1.2.840.10008.1.2.4.90'

const dicom = (stored?: string[]): Offer => ({ mediaType: 'multipart/related', type: 'application/dicom', transferSyntaxes: stored })
const json: Offer = { mediaType: 'application/dicom+json' }
const plainJson: Offer = { mediaType: 'application/json' }
const jpeg: Offer = { mediaType: 'image/jpeg' }
const png: Offer = { mediaType: 'image/png' }

describe('parseAccept', () => {
  test('media ranges, q-values, quoted parameters with commas and semicolons', () => {
    const r = parseAccept('multipart/related; type="application/dicom"; transfer-syntax=*, application/DICOM+json;q=0.5 , */*;q=0.1, multipart/related; type="a/b;c,d"')
    assert.equal(r.length, 4)
    assert.deepEqual(r[0], { type: 'multipart', subtype: 'related', params: { type: 'application/dicom', 'transfer-syntax': '*' }, q: 1, index: 0 })
    assert.deepEqual(r[1], { type: 'application', subtype: 'dicom+json', params: {}, q: 0.5, index: 1 })
    assert.deepEqual(r[2], { type: '*', subtype: '*', params: {}, q: 0.1, index: 2 })
    assert.equal(r[3]!.params.type, 'a/b;c,d')
  })
  test('parameter names are case-insensitive; parameters after q are kept', () => {
    const [r] = parseAccept('Multipart/Related; Type=application/dicom; Q=0.7; Transfer-Syntax=1.2.840.10008.1.2.1')
    assert.deepEqual(r, { type: 'multipart', subtype: 'related', params: { type: 'application/dicom', 'transfer-syntax': EVRLE }, q: 0.7, index: 0 })
  })
  test('invalid ranges are ignored, bare * is */*', () => {
    const r = parseAccept('text, */html, image/png;q=2, image/jpeg;q=abc, image/gif;q=, *;q=.2, ,, a/b')
    assert.deepEqual(r.map((x) => `${x.type}/${x.subtype};${x.q}`), ['*/*;0.2', 'a/b;1'])
  })
})

describe('negotiate: media types', () => {
  test('absent or empty Accept means anything: the first (default) offer', () => {
    assert.equal(negotiate(undefined, [json, plainJson])!.mediaType, 'application/dicom+json')
    assert.equal(negotiate('  ', [plainJson, json])!.mediaType, 'application/json')
  })
  test('exact match, ignoring offers the client did not ask for', () => {
    const c = negotiate('application/json', [json, plainJson])!
    assert.equal(c.mediaType, 'application/json')
    assert.equal(c.offerIndex, 1)
    assert.equal(c.contentType, 'application/json')
    assert.equal(c.from, 'header')
    assert.equal(c.transferSyntax, undefined)
  })
  test('nothing acceptable: null (406)', () => {
    assert.equal(negotiate('text/html', [json, plainJson]), null)
    assert.equal(negotiate('image/gif, text/*', [jpeg, png]), null)
    assert.equal(negotiate('', []), null)
  })
  test('q-values order the choice, whatever the offer order', () => {
    assert.equal(negotiate('image/jpeg;q=0.5, image/png', [jpeg, png])!.mediaType, 'image/png')
    assert.equal(negotiate('image/png;q=0.4, image/jpeg;q=0.6', [png, jpeg])!.mediaType, 'image/jpeg')
    assert.equal(negotiate('image/png;q=0.4, image/jpeg;q=0.6', [png, jpeg])!.q, 0.6)
  })
  test('equal q: the server order decides', () => {
    assert.equal(negotiate('image/png, image/jpeg', [jpeg, png])!.mediaType, 'image/jpeg')
  })
  test('wildcards */* and type/*', () => {
    assert.equal(negotiate('*/*', [png, jpeg])!.mediaType, 'image/png')
    assert.equal(negotiate('image/*', [json, jpeg])!.mediaType, 'image/jpeg')
    assert.equal(negotiate('application/*', [jpeg, json])!.mediaType, 'application/dicom+json')
  })
  test('a more specific range outranks a wildcard at equal q', () => {
    assert.equal(negotiate('*/*, image/png', [jpeg, png])!.mediaType, 'image/png')
  })
  test('q=0 excludes, and the most specific range sets the weight (RFC 7231 5.3.2)', () => {
    assert.equal(negotiate('*/*, image/jpeg;q=0', [jpeg, png])!.mediaType, 'image/png')
    assert.equal(negotiate('image/*, image/jpeg;q=0', [jpeg])!, null)
    // image/* would give jpeg weight 1, but image/jpeg says 0.3: png (1) wins.
    assert.equal(negotiate('image/*, image/jpeg;q=0.3', [jpeg, png])!.mediaType, 'image/png')
    // A specific q=0 does not veto other types covered by the wildcard.
    assert.equal(negotiate('image/*;q=0.2, image/png;q=0', [png, jpeg])!.mediaType, 'image/jpeg')
  })
})

describe('negotiate: multipart/related and transfer syntaxes (PS3.18 8.7.3, 8.7.8.2)', () => {
  test('no transfer-syntax parameter: the default Explicit VR Little Endian, flagged for transcoding when not stored', () => {
    const c = negotiate('multipart/related; type="application/dicom"', [dicom([JPEG_BASELINE])])!
    assert.equal(c.mediaType, 'multipart/related')
    assert.equal(c.type, 'application/dicom')
    assert.equal(c.transferSyntax, EVRLE)
    assert.equal(c.needsTranscode, true)
    assert.equal(c.contentType, 'multipart/related; type="application/dicom"')
    assert.equal(c.partContentType, `application/dicom; transfer-syntax=${EVRLE}`)
  })
  test('default syntax already stored: no transcoding', () => {
    const c = negotiate('multipart/related; type="application/dicom"', [dicom([EVRLE])])!
    assert.equal(c.transferSyntax, EVRLE)
    assert.equal(c.needsTranscode, false)
  })
  test('transfer-syntax=* takes the stored one', () => {
    const c = negotiate('multipart/related; type="application/dicom"; transfer-syntax=*', [dicom([J2K, EVRLE])])!
    assert.equal(c.transferSyntax, J2K)
    assert.equal(c.needsTranscode, false)
    assert.equal(c.partContentType, `application/dicom; transfer-syntax=${J2K}`)
  })
  test('transfer-syntax=* with nothing listed reports *', () => {
    const c = negotiate('multipart/related; type="application/dicom"; transfer-syntax=*', [dicom()])!
    assert.equal(c.transferSyntax, '*')
    assert.equal(c.needsTranscode, false)
    assert.equal(c.partContentType, 'application/dicom')
  })
  test('an explicit syntax the server can produce is chosen; one it cannot is skipped', () => {
    const c = negotiate(`multipart/related; type="application/dicom"; transfer-syntax=${JPEG_BASELINE}`, [dicom([J2K, JPEG_BASELINE])])!
    assert.equal(c.transferSyntax, JPEG_BASELINE)
    assert.equal(negotiate(`multipart/related; type="application/dicom"; transfer-syntax=${JPEG_BASELINE}`, [dicom([J2K])]), null)
    // ... and the next acceptable range is used instead
    const d = negotiate(`multipart/related; type="application/dicom"; transfer-syntax=${JPEG_BASELINE}, multipart/related; type="application/dicom"; transfer-syntax=*;q=0.5`, [dicom([J2K])])!
    assert.equal(d.transferSyntax, J2K)
    assert.equal(d.q, 0.5)
  })
  test('explicitly asking for Explicit VR Little Endian behaves like the default', () => {
    const c = negotiate(`multipart/related; type="application/dicom"; transfer-syntax=${EVRLE}`, [dicom([J2K])])!
    assert.equal(c.transferSyntax, EVRLE)
    assert.equal(c.needsTranscode, true)
  })
  test('at equal weight, a syntax that needs no transcoding wins', () => {
    const c = negotiate(`multipart/related; type="application/dicom", multipart/related; type="application/dicom"; transfer-syntax=*`, [dicom([J2K])])!
    assert.equal(c.transferSyntax, J2K)
    assert.equal(c.needsTranscode, false)
  })
  test('client weight beats transcoding avoidance', () => {
    const c = negotiate(`multipart/related; type="application/dicom"; transfer-syntax=*;q=0.5, multipart/related; type="application/dicom"`, [dicom([J2K])])!
    assert.equal(c.transferSyntax, EVRLE)
    assert.equal(c.needsTranscode, true)
  })
  test('a q=0 on a specific syntax vetoes it under transfer-syntax=*', () => {
    const c = negotiate(`multipart/related; type="application/dicom"; transfer-syntax=*, multipart/related; type="application/dicom"; transfer-syntax=${J2K};q=0`, [dicom([J2K, JPEG_BASELINE])])!
    assert.equal(c.transferSyntax, JPEG_BASELINE)
  })
  test('refusing the default syntax (q=0) while accepting any other gives the stored one', () => {
    const c = negotiate(`multipart/related; type="application/dicom"; q=0, multipart/related; type="application/dicom"; transfer-syntax=*`, [dicom([J2K])])!
    assert.equal(c.transferSyntax, J2K)
    assert.equal(negotiate(`multipart/related; type="application/dicom"; q=0, multipart/related; type="application/dicom"; transfer-syntax=*`, [dicom([EVRLE])]), null)
  })
  test('the type parameter must match the part type', () => {
    const frames: Offer = { mediaType: 'multipart/related', type: 'application/octet-stream', transferSyntaxes: [EVRLE] }
    assert.equal(negotiate('multipart/related; type="application/dicom"', [frames]), null)
    const c = negotiate('multipart/related; type="application/octet-stream"', [dicom([EVRLE]), frames])!
    assert.equal(c.offerIndex, 1)
    assert.equal(c.partContentType, `application/octet-stream; transfer-syntax=${EVRLE}`)
  })
  test('multipart/related without type, multipart/*, */* all match the default offer with the default syntax', () => {
    for (const a of ['multipart/related', 'multipart/*', '*/*']) {
      const c = negotiate(a, [dicom([JPEG_BASELINE])])!
      assert.equal(c.type, 'application/dicom', a)
      assert.equal(c.transferSyntax, EVRLE, a)
      assert.equal(c.needsTranscode, true, a)
    }
  })
  test('single-part application/dicom gets the syntax in its Content-Type', () => {
    const c = negotiate('application/dicom; transfer-syntax=*', [{ mediaType: 'application/dicom', transferSyntaxes: [J2K] }])!
    assert.equal(c.contentType, `application/dicom; transfer-syntax=${J2K}`)
    assert.equal(negotiate('application/dicom', [dicom([J2K])]), null, 'single part is not multipart')
  })
  test('compressed bulk data: image/jpeg default is JPEG Lossless SV1 (Table 8.7.3-5)', () => {
    const offer: Offer = { mediaType: 'multipart/related', type: 'image/jpeg', transferSyntaxes: [JPEG_BASELINE] }
    const c = negotiate('multipart/related; type="image/jpeg"', [offer])!
    assert.equal(c.transferSyntax, '1.2.840.10008.1.2.4.70')
    assert.equal(c.needsTranscode, true)
    const d = negotiate(`multipart/related; type="image/jpeg"; transfer-syntax=${JPEG_BASELINE}`, [offer])!
    assert.equal(d.transferSyntax, JPEG_BASELINE)
    assert.equal(d.needsTranscode, false)
  })
  test('rendered offers ignore transfer-syntax', () => {
    const c = negotiate('image/jpeg; transfer-syntax=1.2.3', [jpeg])!
    assert.equal(c.transferSyntax, undefined)
    assert.equal(c.needsTranscode, false)
    assert.equal(c.contentType, 'image/jpeg')
  })
})

describe('negotiate: accept query parameter (PS3.18 8.3.3.1)', () => {
  test('the query parameter is preferred over the header', () => {
    const c = negotiate('image/*', [jpeg, png], 'image/png')!
    assert.equal(c.mediaType, 'image/png')
    assert.equal(c.from, 'query')
  })
  test('query types the header does not cover are ignored', () => {
    const c = negotiate('image/jpeg', [jpeg, png], 'image/png')!
    assert.equal(c.mediaType, 'image/jpeg')
    assert.equal(c.from, 'header')
  })
  test('wildcards are not allowed in the query parameter', () => {
    const c = negotiate('*/*', [jpeg, png], '*/*,image/*')!
    assert.equal(c.from, 'header')
    assert.equal(c.mediaType, 'image/jpeg')
  })
  test('unservable query falls back to the header; repeated parameters are merged', () => {
    assert.equal(negotiate('*/*', [jpeg], 'image/gif')!.from, 'header')
    const c = negotiate('*/*', [jpeg, png], ['image/gif', 'image/png;q=0.5'])!
    assert.equal(c.mediaType, 'image/png')
    assert.equal(c.from, 'query')
  })
  test('query with transfer-syntax parameter', () => {
    const c = negotiate('multipart/related; type="application/dicom"; transfer-syntax=*', [dicom([J2K])], `multipart/related; type="application/dicom"; transfer-syntax=${J2K}`)!
    assert.equal(c.from, 'query')
    assert.equal(c.transferSyntax, J2K)
  })
  test('nothing acceptable anywhere: null', () => {
    assert.equal(negotiate('text/html', [jpeg], 'image/jpeg'), null)
  })
})
