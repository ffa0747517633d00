import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { FileSource } from '@kura/core'
import { openSlide } from '@kura/wsi'
import { ReaderCache } from './reader-cache.ts'
import { TileAuditThrottle } from './audit-throttle.ts'

const SVS = '/work/shared/data/wsi/CMU-1-Small-Region.svs'

describe('reader cache', () => {
  it('opens a slide once, evicts the least recently used, and closes it only when idle', async () => {
    const opened: string[] = []
    const closed: string[] = []
    const cache = new ReaderCache(async (key) => {
      opened.push(key)
      const src = await FileSource.open(SVS)
      const close = src.close.bind(src)
      src.close = async () => {
        closed.push(key)
        await close()
      }
      return openSlide(src)
    }, 2)
    await cache.use('a', async (s) => s.tile(0, 0, 0))
    await cache.use('a', async (s) => s.tile(0, 1, 0))
    assert.deepEqual(opened, ['a'])
    let release!: () => void
    const busy = cache.use('a', (s) => new Promise<number>((res) => (release = () => res(s.levels.length))))
    await new Promise((r) => setTimeout(r, 10))
    await cache.use('b', async () => 0)
    await cache.use('c', async () => 0)
    assert.deepEqual(closed, [], '"a" is evicted while in use: it stays open')
    release()
    assert.equal(await busy, 1)
    await new Promise((r) => setTimeout(r, 10))
    assert.deepEqual(closed, ['a'])
    assert.equal(cache.size, 2)
    await cache.closeAll()
    assert.deepEqual(closed.sort(), ['a', 'b', 'c'])
  })

  it('forgets a slide that failed to open', async () => {
    let n = 0
    const cache = new ReaderCache(async () => {
      n++
      throw new Error('gone')
    })
    await assert.rejects(cache.use('x', async () => 0), /gone/)
    await assert.rejects(cache.use('x', async () => 0), /gone/)
    assert.equal(n, 2)
    assert.equal(cache.size, 0)
  })
})

describe('tile audit throttle', () => {
  it('records a (principal, slide) pair once per window', () => {
    const t = new TileAuditThrottle(1000)
    assert.equal(t.shouldRecord('ann', 's1', 0), true)
    assert.equal(t.shouldRecord('ann', 's1', 999), false)
    assert.equal(t.shouldRecord('bob', 's1', 999), true)
    assert.equal(t.shouldRecord('ann', 's2', 999), true)
    assert.equal(t.shouldRecord('ann', 's1', 1000), true)
  })
})
