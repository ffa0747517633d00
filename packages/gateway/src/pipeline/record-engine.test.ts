/**
 * The record engine's file-name check (readSsmix2: a file whose name disagrees with its folders is misplaced)
 * compares the parts where they lie in the path; this holds it to the straightforward split-and-compare it
 * replaced, on generated paths and on every way a path can be misplaced.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BASIC_POLICY } from '@kura/deid'
import { parseSsmix2FileName } from '@kura/records'
import { synthSsmix2Files } from '@kura/records/synth'
import { recordEngine } from './record-engine.ts'

/** What readSsmix2 held a misplaced file for, worked out the plain way (split into parts); null when not misplaced. */
function plainMisplaced(ref: string): string | null {
  const parsed = parseSsmix2FileName(ref.slice(ref.lastIndexOf('/') + 1))
  if (!parsed.ok) return parsed.reason
  const segs = ref.split('/')
  if (segs.length !== 6) return null
  const f = parsed.name
  const [a, b, id, date, type] = segs
  const badId = id !== f.patientId || (f.patientId.length >= 6 && (a !== f.patientId.slice(0, 3) || b !== f.patientId.slice(3, 6)))
  if (!badId && date === (f.date ?? '-') && type === f.dataType) return null
  const off = [badId ? 'patient ID' : '', date !== (f.date ?? '-') ? 'date' : '', type !== f.dataType ? 'data type' : ''].filter(Boolean)
  return `file name's ${off.join(', ')} differ(s) from its folder; the file is misplaced`
}

test('readSsmix2 holds a misplaced file for the same reasons as splitting its path would', () => {
  const engine = recordEngine({ policy: BASIC_POLICY, secret: new Uint8Array(32).fill(1), collection: 'engine-test' })
  const refs: string[] = []
  for (const f of synthSsmix2Files({ patients: 3, seed: 9, years: 1, collect: false, malformed: true })) refs.push(f.path)
  const name = '1234567890_20240105_OMG-12_000000000000001_20240105093000000_13_1'
  const variants = [
    `123/456/1234567890/20240105/OMG-12/${name}`, `124/456/1234567890/20240105/OMG-12/${name}`, `123/457/1234567890/20240105/OMG-12/${name}`,
    `123/456/1234567891/20240105/OMG-12/${name}`, `123/456/1234567890/20240106/OMG-12/${name}`, `123/456/1234567890/20240105/OMG-11/${name}`,
    `123/456/1234567890/-/OMG-12/${name}`, `12/456/1234567890/20240105/OMG-12/${name}`, `123/456/1234567890/20240105/OMG-1/${name}`,
    `x/123/456/1234567890/20240105/OMG-12/${name}`, `456/1234567890/20240105/OMG-12/${name}`, name, `/${name}`, `//////${name}`,
    `123/456/1234567890/20240105//${name}`, `12/3/123_4/20240105/OMG-12/123_4_20240105_OMG-12_-_20240105093000000_-_1`,
    `12/3/123/-/ADT-00/123_-_ADT-00_999999999999999_20240105093000000_-_1`, `12/3/124/-/ADT-00/123_-_ADT-00_999999999999999_20240105093000000_-_1`,
  ]
  for (const ref of [...refs, ...variants]) {
    const want = plainMisplaced(ref)
    // Empty bytes: a file that passes the name checks goes on to the parser, which throws HL7_EMPTY.
    let got: string | null = null
    try {
      const r = engine.readSsmix2(new Uint8Array(0), ref)
      if (r.held[0]?.[0]?.path === 'fileName') got = r.held[0][0].message
    } catch (e) {
      assert.equal((e as { code?: string }).code, 'HL7_EMPTY', ref)
    }
    assert.equal(got, want, ref)
  }
})
