/** Upload-Metadata parsing against the contract's keys. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseUploadMetadata } from './metadata.ts'

const b64 = (s: string) => Buffer.from(s).toString('base64')
const header = (m: Record<string, string>) => Object.entries(m).map(([k, v]) => `${k} ${b64(v)}`).join(',')
const good = { kind: 'dicom-bundle', collection: 'coll-a', sha256: 'AB'.repeat(32), study: '1.2.840.1', count: '50' }

test('parseUploadMetadata: the contract keys, checked', () => {
  assert.deepEqual(parseUploadMetadata(header(good)), { kind: 'dicom-bundle', collection: 'coll-a', sha256: 'ab'.repeat(32), study: '1.2.840.1', count: 50 })
  for (const [k, v] of [['kind', 'zip'], ['sha256', 'abc'], ['study', '1.2.x'], ['count', '0'], ['collection', '']] as const) {
    assert.throws(() => parseUploadMetadata(header({ ...good, [k]: v })), (e: any) => e.code === 'UPLOAD_BAD_METADATA', `${k}=${v}`)
  }
  assert.throws(() => parseUploadMetadata(header({ ...good, kind: 'dicom' })), /count must be 1/)
  assert.throws(() => parseUploadMetadata(undefined), /missing/)
})
