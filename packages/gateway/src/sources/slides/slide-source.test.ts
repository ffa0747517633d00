/**
 * The slide source after a crash: its spool folders and outbox rows are put back in agreement before anything
 * runs. Copies that never got a row are removed (taken again later), slides whose files are gone fail as lost with
 * what to do, a quarantine that was not recorded is recorded, and a claimed upload goes back to the queue.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BASIC_POLICY, generateSecret } from '@kura/deid'
import { Outbox } from '../../outbox/index.ts'
import { SlideRows } from './slide-rows.ts'
import { SlideSource } from './slide-source.ts'

test('recovery after a crash', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kura-slide-recover-'))
  const outbox = Outbox.open(join(root, 'spool'))
  try {
    mkdirSync(join(root, 'scanner'))
    const opts = {
      hub: { url: 'http://127.0.0.1:9', tokenFile: join(root, 'no-token-yet'), collection: 'c' },
      deid: { policy: BASIC_POLICY, secret: generateSecret(), collection: 'c' },
      pollMs: 50,
    }
    const source = new SlideSource({ path: join(root, 'scanner'), settleSeconds: 0, deleteAfterTake: false }, outbox, opts)
    const rows = new SlideRows(outbox)
    const add = (id: string, state: string) => {
      rows.addTaken({ id, source: source.name, path: join(root, 'scanner', id), bytes: 10, mtimeMs: 1, sha256: 'a'.repeat(64) })
      outbox.db.prepare('UPDATE objects SET state = ?, output_sha256 = ?, output_bytes = 10 WHERE id = ?').run(state, 'b'.repeat(64), id)
    }
    // Where the source keeps its files: the one folder under slides/ once started; make it now to plant leftovers.
    await source.start()
    await source.stop()
    const [own] = readdirSync(join(root, 'spool', 'slides'))
    const incoming = join(root, 'spool', 'slides', own!, 'incoming')
    const clean = join(root, 'spool', 'slides', own!, 'clean')

    add('lost-input', 'received')
    add('quarantined-unrecorded', 'received')
    mkdirSync(join(outbox.quarantine, 'quarantined-unrecorded'), { recursive: true })
    writeFileSync(join(outbox.quarantine, 'quarantined-unrecorded', 'reason.json'), '{}')
    add('lost-clean', 'queued')
    add('claimed', 'uploading')
    writeFileSync(join(clean, 'claimed.bin'), 'x'.repeat(10))
    writeFileSync(join(clean, 'claimed.json'), JSON.stringify({ uploadKind: 'slide', study: null, count: 1, summary: '' }))
    mkdirSync(join(incoming, 'no-row-copy'))
    mkdirSync(join(incoming, 'half.part'))
    writeFileSync(join(clean, 'gone.bin'), 'x')

    const again = new SlideSource({ path: join(root, 'scanner'), settleSeconds: 0, deleteAfterTake: false }, outbox, opts)
    await again.start()
    await new Promise((r) => setTimeout(r, 200))
    await again.stop()
    const state = (id: string) => rows.get(id)
    assert.equal(state('lost-input')?.state, 'failed')
    assert.match(state('lost-input')?.last_error ?? '', /drop the slide into the folder again/)
    assert.equal(state('quarantined-unrecorded')?.state, 'quarantined')
    assert.equal(state('lost-clean')?.state, 'failed')
    // Back in the queue; with no token yet it stays there, no attempt counted.
    assert.equal(state('claimed')?.state, 'queued')
    assert.equal(state('claimed')?.attempts, 0)
    assert.deepEqual(readdirSync(incoming), [])
    assert.deepEqual(readdirSync(clean).sort(), ['claimed.bin', 'claimed.json'])
    assert.ok(existsSync(join(outbox.quarantine, 'quarantined-unrecorded', 'reason.json')))
  } finally {
    outbox.close()
    rmSync(root, { recursive: true, force: true })
  }
})
