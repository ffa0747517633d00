import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isKuraError } from '@kura/core'
import { decodeSecret, generateSecret, loadSecret, writeSecretFile } from './secret.ts'

const posix = process.platform !== 'win32'
const withDir = (fn: (dir: string) => void) => () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-secret-'))
  try {
    fn(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
const code = (c: string, re?: RegExp) => (e: unknown) => isKuraError(e) && e.code === c && (re === undefined || re.test(e.message))

test('writeSecretFile creates a 0600 hex file that loadSecret reads back', withDir((dir) => {
  const p = join(dir, 'site.key')
  const key = writeSecretFile(p)
  assert.equal(key.length, 32)
  if (posix) assert.equal(statSync(p).mode & 0o777, 0o600)
  assert.deepEqual(loadSecret(p), key)
}))

test('writeSecretFile never overwrites', withDir((dir) => {
  const p = join(dir, 'site.key')
  writeSecretFile(p)
  assert.throws(() => writeSecretFile(p), code('DEID_KEY_EXISTS'))
}))

test('loadSecret refuses group/world-accessible files with a chmod 600 hint', { skip: !posix }, withDir((dir) => {
  const p = join(dir, 'site.key')
  writeSecretFile(p)
  chmodSync(p, 0o644)
  assert.throws(() => loadSecret(p), code('DEID_KEY_INSECURE_FILE', /chmod 600/))
  chmodSync(p, 0o640)
  assert.throws(() => loadSecret(p), code('DEID_KEY_INSECURE_FILE'))
}))

test('loadSecret accepts base64 and raw bytes, refuses short keys and missing files', withDir((dir) => {
  const key = generateSecret()
  const b64 = join(dir, 'b64')
  writeFileSync(b64, key.toString('base64') + '\n', { mode: 0o600 })
  assert.deepEqual(loadSecret(b64), key)
  const url = join(dir, 'url')
  writeFileSync(url, key.toString('base64url'), { mode: 0o600 })
  assert.deepEqual(loadSecret(url), key)
  const raw = join(dir, 'raw')
  const rawKey = Buffer.concat([Buffer.from([0xff, 0x00]), generateSecret()])
  writeFileSync(raw, rawKey, { mode: 0o600 })
  assert.deepEqual(loadSecret(raw), rawKey)
  const short = join(dir, 'short')
  writeFileSync(short, 'ab'.repeat(31), { mode: 0o600 })
  assert.throws(() => loadSecret(short), code('DEID_KEY_TOO_SHORT', /at least 32/))
  assert.throws(() => loadSecret(join(dir, 'nope')), code('DEID_KEY_UNREADABLE'))
}))

test('decodeSecret: hex wins over base64', () => {
  assert.deepEqual(decodeSecret(Buffer.from(' 00ff\n')), Buffer.from([0, 255]))
})
