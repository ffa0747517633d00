import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { UploadHasher } from './whole-hasher.ts'

const sha = (bufs: Buffer[], enc: 'hex' | 'base64') => { const h = createHash('sha256'); for (const b of bufs) h.update(b); return h.digest(enc) }
/** A body as the receive writes it: several batches, one of them larger than a thread's read buffer. */
const pieces = (n: number) => [...Array.from({ length: n }, () => randomBytes(64 * 1024)), randomBytes(5 * 1024 * 1024 + 7), Buffer.from('last bytes')]

describe('UploadHasher', () => {
  const hasher = new UploadHasher()
  const dir = mkdtempSync(join(tmpdir(), 'kura-hasher-'))
  after(async () => { await hasher.close(); rmSync(dir, { recursive: true, force: true }) })
  let size = 0
  /** Appends the body to the part file batch by batch, handing each batch's position to the hasher as the receive does. */
  const send = (path: string, n: number, id: string | null, bufs: Buffer[]) => {
    for (const b of bufs) {
      appendFileSync(path, b)
      hasher.update(n, id, size, b.length)
      size += b.length
    }
  }

  it('computes each body digest and the whole-upload digest across accepted PATCHes, ignoring a refused one', async () => {
    const path = join(dir, 'u1.part')
    writeFileSync(path, '')
    size = 0
    const a = pieces(20), refused = pieces(3), b = pieces(7)

    hasher.begin('u1', 'fresh')
    const n1 = hasher.startBody(path)
    send(path, n1, 'u1', a)
    hasher.endBody(n1, 'u1')
    assert.equal(await hasher.bodyDigest(n1), sha(a, 'base64'))
    hasher.commit('u1')

    hasher.begin('u1', 'committed')
    const n2 = hasher.startBody(path)
    const before = size
    send(path, n2, 'u1', refused)
    hasher.endBody(n2, 'u1')
    assert.equal(await hasher.bodyDigest(n2), sha(refused, 'base64'))
    hasher.discard('u1')
    writeFileSync(path, Buffer.concat(a)) // cut back
    size = before

    hasher.begin('u1', 'committed')
    const n3 = hasher.startBody(path)
    send(path, n3, 'u1', b)
    hasher.endBody(n3, 'u1')
    assert.equal(await hasher.bodyDigest(n3), sha(b, 'base64'))
    hasher.commit('u1')
    assert.equal(await hasher.digest('u1'), sha([...a, ...b], 'hex'))
    await hasher.caughtUp(0)
  })

  it('continues a body received while the one before it is not yet accepted, and commits them in order', async () => {
    const path = join(dir, 'u3.part')
    writeFileSync(path, '')
    size = 0
    const a = pieces(4), b = pieces(5), c = pieces(2)
    hasher.begin('u3', 'fresh')
    const n1 = hasher.startBody(path)
    send(path, n1, 'u3', a)
    hasher.endBody(n1, 'u3')
    // The next body arrives before the first is accepted.
    hasher.begin('u3', 'running')
    const n2 = hasher.startBody(path)
    send(path, n2, 'u3', b)
    hasher.endBody(n2, 'u3')
    assert.equal(await hasher.bodyDigest(n1), sha(a, 'base64'))
    assert.equal(await hasher.bodyDigest(n2), sha(b, 'base64'))
    hasher.commit('u3')
    hasher.commit('u3')
    assert.equal(await hasher.digest('u3'), sha([...a, ...b], 'hex'))
    // The committed state is the end of the second body: a third continues from it.
    hasher.begin('u3', 'committed')
    const n3 = hasher.startBody(path)
    send(path, n3, 'u3', c)
    hasher.endBody(n3, 'u3')
    assert.equal(await hasher.bodyDigest(n3), sha(c, 'base64'))
    hasher.commit('u3')
    assert.equal(await hasher.digest('u3'), sha([...a, ...b, ...c], 'hex'))
  })

  it('drops the running state when a body is refused while the next one was already arriving', async () => {
    const path = join(dir, 'u4.part')
    writeFileSync(path, '')
    size = 0
    const a = pieces(2), b = pieces(2), c = pieces(2)
    hasher.begin('u4', 'fresh')
    const n1 = hasher.startBody(path)
    send(path, n1, 'u4', a)
    hasher.endBody(n1, 'u4')
    await hasher.bodyDigest(n1)
    hasher.commit('u4')
    hasher.begin('u4', 'committed')
    const n2 = hasher.startBody(path)
    send(path, n2, 'u4', b)
    hasher.endBody(n2, 'u4')
    hasher.begin('u4', 'running')
    const n3 = hasher.startBody(path)
    send(path, n3, 'u4', c)
    hasher.endBody(n3, 'u4')
    await hasher.bodyDigest(n2)
    await hasher.bodyDigest(n3)
    hasher.discard('u4') // the second body was refused: the third goes with it
    assert.equal(await hasher.digest('u4'), null)
    hasher.begin('u4', 'committed') // the client resends from the end of the first
    const n4 = hasher.startBody(path)
    writeFileSync(path, Buffer.concat(a))
    size = a.reduce((s, x) => s + x.length, 0)
    send(path, n4, 'u4', c)
    hasher.endBody(n4, 'u4')
    await hasher.bodyDigest(n4)
    hasher.commit('u4')
    assert.equal(await hasher.digest('u4'), sha([...a, ...c], 'hex'))
  })

  it('says null, never a wrong digest, for an upload whose earlier bytes it did not see', async () => {
    const path = join(dir, 'u2.part')
    writeFileSync(path, '')
    size = 0
    hasher.begin('u2', 'committed') // no committed state here (another process took the first PATCH)
    const n = hasher.startBody(path)
    const body = pieces(2)
    send(path, n, 'u2', body)
    hasher.endBody(n, 'u2')
    assert.equal(await hasher.bodyDigest(n), sha(body, 'base64'))
    hasher.commit('u2')
    assert.equal(await hasher.digest('u2'), null)
  })

  it('says null for a body whose bytes are not in the file (never a digest of other bytes)', async () => {
    const path = join(dir, 'u5.part')
    writeFileSync(path, 'short')
    const n = hasher.startBody(path)
    hasher.update(n, null, 0, 1000)
    hasher.endBody(n, null)
    assert.equal(await hasher.bodyDigest(n), null)
  })
})
