import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { UploadHasher } from './whole-hasher.ts'

const sha = (bufs: Buffer[], enc: 'hex' | 'base64') => { const h = createHash('sha256'); for (const b of bufs) h.update(b); return h.digest(enc) }
/** Socket-read-like buffers (each owning its memory), plus one slice of a shared pool that must be copied. */
const pieces = (n: number) => [...Array.from({ length: n }, () => Buffer.from(randomBytes(64 * 1024))), Buffer.from('pooled bytes')]

describe('UploadHasher', () => {
  const hasher = new UploadHasher()
  after(() => hasher.close())

  it('computes each body digest and the whole-upload digest across accepted PATCHes, ignoring a refused one', async () => {
    const a = pieces(20), refused = pieces(3), b = pieces(7)
    const copy = (bufs: Buffer[]) => bufs.map((x) => Buffer.from(x))
    const [ac, rc, bc] = [copy(a), copy(refused), copy(b)]

    hasher.begin('u1', true)
    const n1 = hasher.startBody()
    hasher.update(n1, 'u1', a)
    assert.equal(await hasher.bodyDigest(n1), sha(ac, 'base64'))
    hasher.commit('u1')

    hasher.begin('u1', false)
    const n2 = hasher.startBody()
    hasher.update(n2, 'u1', refused)
    assert.equal(await hasher.bodyDigest(n2), sha(rc, 'base64'))
    hasher.discard('u1')

    hasher.begin('u1', false)
    const n3 = hasher.startBody()
    hasher.update(n3, 'u1', b)
    assert.equal(await hasher.bodyDigest(n3), sha(bc, 'base64'))
    hasher.commit('u1')
    assert.equal(await hasher.digest('u1'), sha([...ac, ...bc], 'hex'))
    await hasher.caughtUp(0)
  })

  it('says null, never a wrong digest, for an upload whose earlier bytes it did not see', async () => {
    hasher.begin('u2', false) // no committed state here (another process took the first PATCH)
    const n = hasher.startBody()
    const body = pieces(2)
    const expected = sha(body.map((x) => Buffer.from(x)), 'base64')
    hasher.update(n, 'u2', body)
    assert.equal(await hasher.bodyDigest(n), expected)
    hasher.commit('u2')
    assert.equal(await hasher.digest('u2'), null)
  })
})
