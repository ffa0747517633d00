/**
 * `kura records propose-mapping | check`: the draft is YAML that loads as an adapter and names no patient; check
 * reports held rows by place and reason (never the row) and the unmapped terms, exiting 1 when any row is held.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadAdapter, shippedAdapterPath } from '@kura/records'
import { generateVendorExport } from '@kura/records/synth'

const BIN = fileURLToPath(new URL('../../bin/kura.js', import.meta.url))
const kura = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' })

test('kura records propose-mapping and check on a generated Shift_JIS export', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-records-cli-'))
  try {
    const g = generateVendorExport({ layout: 'vendor-a-csv', exams: 30, seed: 4 })
    const file = join(dir, 'export.csv')
    writeFileSync(file, g.bytes)
    const p = kura('records', 'propose-mapping', file, '--name', 'my-site')
    assert.equal(p.status, 0, p.stderr)
    const draft = loadAdapter(p.stdout)
    assert.equal(draft.name, 'my-site')
    assert.equal(draft.encoding, 'shift_jis')
    for (const pt of g.patients) assert.ok(!p.stdout.includes(pt.kanji) && !p.stdout.includes(pt.patientId))

    const c = kura('records', 'check', '--adapter', shippedAdapterPath('vendor-a-csv'), file)
    assert.equal(c.status, 1, c.stderr)
    assert.match(c.stdout, new RegExp(`^${g.exams.length} valid records, ${g.expectedHeld} held`))
    assert.match(c.stdout, /export\.csv:\d+(-\d+)?\s+performedAt\s+.*date formats/)
    assert.match(c.stdout, /Unmapped terms[\s\S]*findings\[\]\.site\s+部位\s+site\s+胃体真ん中\s+1/)
    for (const pt of g.patients) assert.ok(!c.stdout.includes(pt.kanji), 'check never prints a held row itself')

    const u = kura('records', 'frobnicate')
    assert.equal(u.status, 2)
    assert.match(u.stderr, /use propose-mapping or check/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
