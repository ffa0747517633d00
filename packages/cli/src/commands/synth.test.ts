/**
 * `kura synth slide`: each format writes a file that our reader and OpenSlide open with the
 * asked-for size; bad flags are usage errors (exit 2) that say what to do.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FileSource } from '@kura/core'
import { openSlide } from '@kura/wsi'

const BIN = fileURLToPath(new URL('../../bin/kura.js', import.meta.url))
const kura = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' })

test('kura synth slide writes svs, ndpi and tiff slides that open at the asked size', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-synth-slide-'))
  try {
    for (const [format, name] of [['svs', 'aperio-svs'], ['ndpi', 'hamamatsu-ndpi'], ['tiff', 'generic-tiff']] as const) {
      const out = join(dir, `s.${format}`)
      const r = kura('synth', 'slide', '--format', format, '--width', '1024', '--height', '768', '--out', out, '--label-text', 'Fake Name 1')
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stdout, new RegExp(`Wrote ${format} slide .*1024×768`))
      const s = await openSlide(await FileSource.open(out))
      assert.equal(s.format, name)
      assert.deepEqual([s.levels[0].width, s.levels[0].height], [1024, 768])
      await s.close()
      const os = spawnSync('/usr/bin/python3', ['-c', 'import openslide,sys; print(openslide.OpenSlide(sys.argv[1]).dimensions)', out], { encoding: 'utf8' })
      assert.equal(os.stdout.trim(), '(1024, 768)', os.stderr)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('kura synth slide: missing or bad flags are usage errors', () => {
  const noOut = kura('synth', 'slide', '--format', 'ndpi', '--width', '1024', '--height', '768')
  assert.equal(noOut.status, 2)
  assert.match(noOut.stderr, /--out is required/)
  const badFormat = kura('synth', 'slide', '--format', 'png', '--width', '1024', '--height', '768', '--out', '/tmp/x')
  assert.equal(badFormat.status, 2)
  const badTile = kura('synth', 'slide', '--format', 'svs', '--width', '1024', '--height', '768', '--tile', '100', '--out', '/tmp/x')
  assert.equal(badTile.status, 2)
  assert.match(badTile.stderr, /multiple of 8/)
})
