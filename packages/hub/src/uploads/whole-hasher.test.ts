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
  /** A new, empty part file. */
  const partFile = (name: string): string => {
    const path = join(dir, name)
    writeFileSync(path, '')
    size = 0
    return path
  }
  /** One PATCH body through the hasher: begun (continuing `from`), written batch by batch, ended; returns its number. */
  const body = (path: string, id: string, from: 'fresh' | 'committed' | 'running', bufs: Buffer[]): number => {
    hasher.begin(id, from)
    const n = hasher.startBody(path)
    send(path, n, id, bufs)
    hasher.endBody(n, id)
    return n
  }

  it('computes each body digest and the whole-upload digest across accepted PATCHes, ignoring a refused one', async () => {
    const path = partFile('u1.part')
    const a = pieces(20), refused = pieces(3), b = pieces(7)

    const n1 = body(path, 'u1', 'fresh', a)
    assert.equal(await hasher.bodyDigest(n1), sha(a, 'base64'))
    hasher.commit('u1')

    const before = size
    const n2 = body(path, 'u1', 'committed', refused)
    assert.equal(await hasher.bodyDigest(n2), sha(refused, 'base64'))
    hasher.discard('u1')
    writeFileSync(path, Buffer.concat(a)) // cut back
    size = before

    const n3 = body(path, 'u1', 'committed', b)
    assert.equal(await hasher.bodyDigest(n3), sha(b, 'base64'))
    hasher.commit('u1')
    assert.equal(await hasher.digest('u1'), sha([...a, ...b], 'hex'))
    await hasher.caughtUp(0)
  })

  it('a single PATCH (one pass over its bytes) gives its body digest and the whole digest, as appendBody asks for them', async () => {
    const path = partFile('u5.part')
    const a = pieces(3), b = pieces(1)
    hasher.begin('u5', 'fresh')
    const n1 = hasher.startBody(path)
    send(path, n1, 'u5', a)
    // appendBody's order: the body's digest first, then its end.
    const d1 = hasher.bodyDigest(n1)
    hasher.endBody(n1, 'u5')
    assert.equal(await d1, sha(a, 'base64'))
    hasher.commit('u5')
    assert.equal(await hasher.digest('u5'), sha(a, 'hex'))
    // The whole hash lives on after the body's digest was taken: a further PATCH continues it.
    const n2 = body(path, 'u5', 'committed', b)
    assert.equal(await hasher.bodyDigest(n2), sha(b, 'base64'))
    hasher.commit('u5')
    assert.equal(await hasher.digest('u5'), sha([...a, ...b], 'hex'))
  })

  it('continues a body received while the one before it is not yet accepted, and commits them in order', async () => {
    const path = partFile('u3.part')
    const a = pieces(4), b = pieces(5), c = pieces(2)
    const n1 = body(path, 'u3', 'fresh', a)
    // The next body arrives before the first is accepted.
    const n2 = body(path, 'u3', 'running', b)
    assert.equal(await hasher.bodyDigest(n1), sha(a, 'base64'))
    assert.equal(await hasher.bodyDigest(n2), sha(b, 'base64'))
    hasher.commit('u3')
    hasher.commit('u3')
    assert.equal(await hasher.digest('u3'), sha([...a, ...b], 'hex'))
    // The committed state is the end of the second body: a third continues from it.
    const n3 = body(path, 'u3', 'committed', c)
    assert.equal(await hasher.bodyDigest(n3), sha(c, 'base64'))
    hasher.commit('u3')
    assert.equal(await hasher.digest('u3'), sha([...a, ...b, ...c], 'hex'))
  })

  it('drops the running state when a body is refused while the next one was already arriving', async () => {
    const path = partFile('u4.part')
    const a = pieces(2), b = pieces(2), c = pieces(2)
    const n1 = body(path, 'u4', 'fresh', a)
    await hasher.bodyDigest(n1)
    hasher.commit('u4')
    const n2 = body(path, 'u4', 'committed', b)
    const n3 = body(path, 'u4', 'running', c)
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
    const path = partFile('u2.part')
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
