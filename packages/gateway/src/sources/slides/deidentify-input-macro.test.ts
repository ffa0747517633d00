/**
 * The policy's `slides` section through the gateway's slide-file de-identification: the default removes the
 * macro; "keep-with-label-blacked-out" keeps it (OpenSlide still lists it) with the policy named in its description;
 * the label goes in both.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BASIC_POLICY, parsePolicy } from '@kura/deid'
import { writeSvsSlide } from '@kura/wsi/synth'
import { deidentifySlideFile } from './deidentify-input.ts'

const dir = mkdtempSync(join(tmpdir(), 'kura-slide-macro-'))
process.on('exit', () => rmSync(dir, { recursive: true, force: true }))

const associated = (p: string): string[] => {
  const r = spawnSync('/usr/bin/python3', ['-c', 'import sys, json, openslide\nprint(json.dumps(sorted(openslide.OpenSlide(sys.argv[1]).associated_images.keys())))', p], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`python3-openslide failed (apt-get install -y python3-openslide): ${r.stderr}`)
  return JSON.parse(r.stdout.trim().split('\n').pop()!)
}

test('slides.macro: removed by default, kept with the label area blacked out when the policy says so', async () => {
  const svs = join(dir, 'in.svs')
  await writeSvsSlide(svs, { width: 800, height: 600, seed: 5 })
  const plain = await deidentifySlideFile(svs, join(dir, 'plain.svs'), { policy: BASIC_POLICY })
  assert.equal(plain.kind, 'clean', JSON.stringify(plain))
  assert.deepEqual(associated(join(dir, 'plain.svs')), ['thumbnail'])

  const policy = parsePolicy({ id: 'site-slides', version: '2', profile: 'basic', slides: { macro: 'keep-with-label-blacked-out' } })
  const kept = await deidentifySlideFile(svs, join(dir, 'kept.svs'), { policy })
  assert.equal(kept.kind, 'clean', JSON.stringify(kept))
  if (kept.kind !== 'clean') return
  assert.match(kept.summary, /removed label, kept the macro with label area 0,0,600,500 blacked out/)
  assert.deepEqual(associated(kept.path), ['macro', 'thumbnail'])
  const r = spawnSync('grep', ['-c', 'label area 0,0,600,500 blacked out by KURA site-slides 2', kept.path], { encoding: 'utf8' })
  assert.equal(r.stdout.trim(), '1')
})
