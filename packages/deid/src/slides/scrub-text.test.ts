/** Aperio description scrubbing: which keys go, which stay, and that the length never changes. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { blankAscii, isIdentifyingAperioKey, scrubAperioDescription } from './scrub-text.ts'

test('identifying Aperio keys are blanked to the same length; technical keys stay', () => {
  const d = 'Aperio Image Library v12.0.5\r\n46000x32914 (256x256) JPEG/RGB Q=70|AppMag = 40|MPP = 0.2527|Filename = 2021-S-0042 A1|Date = 03/04/21|Time = 10:11:12|Time Zone = GMT+09:00|User = 1f2e|ScanScope ID = SS1234|Barcode = S21-0042|Slide Name = A1|Patient ID = 12345|Exposure Time = 32|Left = 25.6|Title = Taro'
  const s = scrubAperioDescription(d)
  assert.equal(s.text.length, d.length)
  assert.deepEqual(s.keys, ['Filename', 'Date', 'Time', 'Time Zone', 'User', 'ScanScope ID', 'Barcode', 'Slide Name', 'Patient ID', 'Title'])
  for (const kept of ['AppMag = 40', 'MPP = 0.2527', 'Exposure Time = 32', 'Left = 25.6', 'JPEG/RGB Q=70']) assert.ok(s.text.includes(kept), kept)
  assert.doesNotMatch(s.text, /2021-S|03\/04\/21|SS1234|S21-0042|12345|Taro|GMT/)
  // Already blank: nothing to report, nothing changed.
  assert.deepEqual(scrubAperioDescription(s.text), { text: s.text, keys: [] })
})

test('key classification and ASCII blanking', () => {
  for (const k of ['ImageID', 'DSR ID', 'Operator', 'Accession', 'Specimen Label']) assert.ok(isIdentifyingAperioKey(k), k)
  for (const k of ['MPP', 'AppMag', 'StripeWidth', 'Focus Offset', 'OriginalWidth', 'Parmset', 'Filtered']) assert.ok(!isIdentifyingAperioKey(k), k)
  assert.deepEqual([...blankAscii(new Uint8Array([65, 66, 0, 67, 0]))], [32, 32, 0, 32, 0])
})
