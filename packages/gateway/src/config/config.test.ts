import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import { initGatewayConfig, loadGatewayConfig, parseGatewayConfig, rateAt, parseWindow, parseBytes } from './index.ts'

test('init writes a commented config that loads, with the secret created and paths resolved', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-gwcfg-'))
  try {
    const out = join(dir, 'gateway.yaml')
    const { config, secretCreated } = initGatewayConfig({ out, hub: 'https://hub.example.org/', tokenFile: join(dir, 'token'), collection: 'jmid-pilot', site: 'tokyo-1', dicomPort: 11112, spool: join(dir, 'spool'), folders: [join(dir, 'drop')] })
    assert.equal(secretCreated, true)
    assert.equal(statSync(config.deid.secretFile).mode & 0o777, 0o600)
    assert.match(readFileSync(out, 'utf8'), /^# Kura site gateway configuration/)
    assert.equal(config.hub.url, 'https://hub.example.org')
    assert.equal(config.spool, join(dir, 'spool'))
    assert.equal(config.sources.dicom?.port, 11112)
    assert.equal(config.sources.folders[0]?.path, join(dir, 'drop'))
    assert.equal(config.limits.minFreeDiskBytes, 1e9)
    assert.deepEqual(loadGatewayConfig(out), config)
    assert.throws(() => initGatewayConfig({ out, hub: 'https://h', tokenFile: 't', collection: 'c', site: 's', dicomPort: 1, spool: 's' }), /never overwrites/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('every bad field is reported at once, by its path', () => {
  const doc = parse(`
site: "bad site!"
hub: { url: "http://hub.example.org" }
collection: c
deid: { secretFile: s }
spool: sp
sources:
  dicom: { aeTitle: "WAY_TOO_LONG_AE_TITLE", port: 70000, allowedCallingAEs: [1] }
  folders: [{ settleSeconds: -1 }]
  pacs: {}
limits: { concurrency: 0, bandwidthBytesPerSec: "fast", windows: ["22:00-06:00 full", "25:00-01:00 1MB/s", "nonsense"] }
extra: 1
`)
  assert.throws(() => parseGatewayConfig(doc, '/etc/kura/gateway.yaml'), (e: Error & { details?: { problems: Array<{ field: string }> } }) => {
    const fields = e.details!.problems.map((p) => p.field)
    for (const f of ['site', 'hub.url', 'hub.tokenFile', 'sources.dicom.aeTitle', 'sources.dicom.port', 'sources.dicom.allowedCallingAEs[0]', 'sources.folders[0].path', 'sources.folders[0].settleSeconds', 'sources.pacs', 'limits.concurrency', 'limits.bandwidthBytesPerSec', 'limits.windows[1]', 'limits.windows[2]', 'extra']) {
      assert.ok(fields.includes(f), `${f} reported (got ${fields.join(', ')})`)
    }
    assert.ok(!fields.includes('limits.windows[0]'))
    assert.match(e.message, /hub\.url: must be https:\/\//)
    return true
  })
})

test('units and time windows', () => {
  assert.equal(parseBytes('2MB/s'), 2e6)
  assert.equal(parseBytes('512 KiB'), 512 * 1024)
  assert.equal(parseBytes(12), 12)
  assert.equal(parseBytes('lots'), null)
  const night = parseWindow('22:00-06:00 full')
  const day = parseWindow('06:00-22:00 2MB/s')
  assert.ok(typeof night !== 'string' && typeof day !== 'string')
  const at = (h: number, m = 0) => new Date(2026, 0, 1, h, m)
  assert.equal(rateAt(at(23), [night, day], 5), 0)
  assert.equal(rateAt(at(5, 59), [night, day], 5), 0)
  assert.equal(rateAt(at(6), [night, day], 5), 2e6)
  assert.equal(rateAt(at(12), [night], 5), 5, 'outside every window: the default')
})

test('a config file with YAML errors says how to get a good one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-gwcfg-'))
  try {
    const f = join(dir, 'g.yaml')
    writeFileSync(f, 'site: [unclosed')
    assert.throws(() => loadGatewayConfig(f), /kura gateway init/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('SS-MIX2 trees and vendor export folders are sources: defaults, relative paths, and every bad field named', () => {
  const file = '/etc/kura/gateway.yaml'
  const c = parseGatewayConfig({
    site: 's', hub: { url: 'https://hub.example.org', tokenFile: 't' }, collection: 'c', deid: { secretFile: 'k' }, spool: 'sp',
    sources: { ssmix2: [{ path: '/mnt/ssmix2' }], vendorExports: [{ path: 'endo', adapter: 'adapters/vendor-a.yaml', settleSeconds: 30 }] },
  }, file)
  assert.deepEqual(c.sources.ssmix2, [{ path: '/mnt/ssmix2', rescanSeconds: 300, settleSeconds: 10 }])
  assert.deepEqual(c.sources.vendorExports, [{ path: '/etc/kura/endo', adapter: '/etc/kura/adapters/vendor-a.yaml', settleSeconds: 30, rescanSeconds: 30 }])
  assert.equal(c.sources.dicom, null, 'records alone are a valid gateway')
  assert.throws(() => parseGatewayConfig({
    site: 's', hub: { url: 'https://hub.example.org', tokenFile: 't' }, collection: 'c', deid: { secretFile: 'k' }, spool: 'sp',
    sources: { ssmix2: [{ rescanSeconds: 0 }, 'x'], vendorExports: { path: 'p' } },
  }, file), (e: Error) => {
    for (const f of ['sources.ssmix2[0].path', 'sources.ssmix2[0].rescanSeconds', 'sources.ssmix2[1]', 'sources.vendorExports']) assert.ok(e.message.includes(f), `${f} named in: ${e.message}`)
    return true
  })
  const dir = mkdtempSync(join(tmpdir(), 'kura-gwcfg-rec-'))
  try {
    const out = join(dir, 'gateway.yaml')
    const { config } = initGatewayConfig({ out, hub: 'https://hub.example.org', tokenFile: join(dir, 'token'), collection: 'c', site: 's', dicomPort: 11112, spool: join(dir, 'spool') })
    const text = readFileSync(out, 'utf8')
    assert.match(text, /^ {2}ssmix2: \[\]$/m)
    assert.match(text, /^ {2}vendorExports: \[\]$/m)
    assert.match(text, /# {3}- path: \/mnt\/ssmix2/)
    assert.deepEqual(config.sources.ssmix2, [])
    // The commented examples, uncommented, load.
    const filled = text.replace(/ {2}ssmix2: \[\]\n {2}# {3}- path: \/mnt\/ssmix2\n {2}# {5}rescanSeconds: 300.*\n {2}# {5}settleSeconds: 10/, '  ssmix2:\n    - path: /mnt/ssmix2\n      rescanSeconds: 300\n      settleSeconds: 10')
    assert.notEqual(filled, text)
    writeFileSync(out, filled)
    assert.equal(loadGatewayConfig(out).sources.ssmix2[0]?.path, '/mnt/ssmix2')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
