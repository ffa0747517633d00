import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isKuraError, type KuraError } from '@kura/core'
import { BASIC_POLICY, loadPolicy, methodDescription, safePrivateOf } from './policy.ts'
import { parsePolicy } from './schema.ts'

const EXAMPLE = {
  id: 'jp-endoscopy-basic',
  version: '1.2.0',
  profile: 'basic',
  options: ['retainLongitudinalModifiedDates', 'cleanDescriptors'],
  overrides: [{ tag: '00100040', action: 'K' }, { keyword: 'PatientAge', action: 'K' }],
  safePrivate: [{ creator: 'SIEMENS CT VA0  COAD', elements: ['0019xx10'] }],
  pixelMasks: [{ match: { Manufacturer: 'OLYMPUS', ManufacturerModelName: 'CV-1500', Rows: 1080, Columns: 1920 }, rects: [[0, 0, 550, 1080]] }],
}

const problemsOf = (json: unknown): string[] => {
  try {
    parsePolicy(json)
  } catch (e) {
    assert.ok(isKuraError(e) && e.code === 'DEID_POLICY_INVALID')
    return ((e as KuraError).details!.problems as { path: string }[]).map((p) => p.path)
  }
  assert.fail('expected DEID_POLICY_INVALID')
}

test('parses the brief example into typed rules', () => {
  const p = parsePolicy(EXAMPLE)
  assert.equal(p.id, 'jp-endoscopy-basic')
  assert.deepEqual([...p.options], ['retainLongitudinalModifiedDates', 'cleanDescriptors'])
  assert.deepEqual(p.overrides, [{ tag: 0x00100040, action: 'K' }, { tag: 0x00101010, action: 'K' }])
  assert.deepEqual(p.safePrivate, [{ creator: 'SIEMENS CT VA0  COAD', elements: [{ group: 0x0019, element: 0x10 }] }])
  assert.deepEqual(p.pixelMasks[0]!.rects, [[0, 0, 550, 1080]])
  assert.equal(methodDescription(p), 'KURA jp-endoscopy-basic 1.2.0')
})

test('validation names each bad JSON path, all at once', () => {
  const bad = {
    ...EXAMPLE,
    version: '',
    profile: 'full',
    options: ['retainUids', 'retainUIDs'],
    overrides: [{ tag: '0010004', action: 'K' }, { keyword: 'PatientsAge', action: 'Q' }, { tag: '00100040', action: 'X' }],
    safePrivate: [{ creator: 'X', elements: ['0018xx10'] }],
    pixelMasks: [{ match: { Manufactuer: 'OLYMPUS', Rows: 1080, Columns: 1920 }, rects: [[0, 0, 2000, 1080], [0, 0, 0, 5]] }],
    overide: [],
  }
  assert.deepEqual(problemsOf(bad).sort(), [
    '$.options[1]', '$.overide', '$.overrides[0].tag', '$.overrides[1].action', '$.overrides[1].keyword',
    '$.pixelMasks[0].match.Manufactuer', '$.pixelMasks[0].rects[0]', '$.pixelMasks[0].rects[1]',
    '$.profile', '$.safePrivate[0].elements[0]', '$.version',
  ].sort())
  assert.deepEqual(problemsOf({ id: 'a', version: '1', profile: 'basic', overrides: [{ tag: '00100040', action: 'K' }, { keyword: 'PatientSex', action: 'X' }] }), ['$.overrides[1]'])
  assert.deepEqual(problemsOf([]), ['$'])
  assert.deepEqual(problemsOf({ version: '1', profile: 'basic' }), ['$.id'])
  assert.throws(() => parsePolicy({ ...EXAMPLE, version: 7 }), (e: unknown) => isKuraError(e) && /\$\.version: .*got 7/.test(e.message))
})

test('BASIC_POLICY and method descriptions stay within LO 64', () => {
  assert.equal(methodDescription(BASIC_POLICY), 'KURA kura-basic 1')
  assert.equal(BASIC_POLICY.options.size, 0)
  const long = methodDescription({ id: 'x'.repeat(64), version: '10.20.30-rc.1' })
  assert.ok(long.length <= 64)
  assert.ok(long.endsWith('~ 10.20.30-rc.1'))
})

test('safePrivateOf matches creator, group and element offset in any block', () => {
  const safe = safePrivateOf(parsePolicy(EXAMPLE))
  assert.equal(safe(0x00191010, 'SIEMENS CT VA0  COAD'), true)
  assert.equal(safe(0x00191110, 'SIEMENS CT VA0  COAD '), true)
  assert.equal(safe(0x00191011, 'SIEMENS CT VA0  COAD'), false)
  assert.equal(safe(0x00191010, 'SIEMENS CT VA0 COAD'), false)
  assert.equal(safe(0x00190010, 'SIEMENS CT VA0  COAD'), false)
  assert.equal(safe(0x00191010, undefined), false)
})

test('loadPolicy: the shipped Olympus CV-1500 policy parses; bad files fail clearly', () => {
  const here = dirname(fileURLToPath(import.meta.url))
  const p = loadPolicy(join(here, '../../policies/olympus-cv1500.json'))
  assert.equal(p.pixelMasks[0]!.match.ManufacturerModelName, 'CV-1500')
  assert.deepEqual(p.pixelMasks[0]!.rects, [[0, 0, 550, 1080]])
  assert.ok(p.options.has('cleanPixelData'))
  assert.ok(methodDescription(p).startsWith('KURA olympus-cv1500-masks '))
  const dir = mkdtempSync(join(tmpdir(), 'kura-policy-'))
  try {
    writeFileSync(join(dir, 'bad.json'), '{ "id": ')
    assert.throws(() => loadPolicy(join(dir, 'bad.json')), (e: unknown) => isKuraError(e) && e.code === 'DEID_POLICY_NOT_JSON')
    assert.throws(() => loadPolicy(join(dir, 'p.yaml')), (e: unknown) => isKuraError(e) && e.code === 'DEID_POLICY_UNREADABLE')
    assert.throws(() => loadPolicy(join(dir, 'missing.json')), (e: unknown) => isKuraError(e) && e.code === 'DEID_POLICY_UNREADABLE')
    writeFileSync(join(dir, 'inv.json'), '{"id":"a","version":"1","profile":"basic","options":["nope"]}')
    assert.throws(() => loadPolicy(join(dir, 'inv.json')), (e: unknown) => isKuraError(e) && e.code === 'DEID_POLICY_INVALID' && e.message.includes('inv.json') && e.message.includes('$.options[0]'))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('YAML policies: the shipped YAML equals the shipped JSON; the example parses', () => {
  const here = dirname(fileURLToPath(import.meta.url))
  const json = loadPolicy(join(here, '../../policies/olympus-cv1500.json'))
  for (const name of ['olympus-cv1500.yaml']) {
    const yaml = loadPolicy(join(here, '../../policies', name))
    assert.deepEqual({ ...yaml, options: [...yaml.options] }, { ...json, options: [...json.options] }, name)
  }
  const ex = loadPolicy(join(here, '../../policies/example.yaml'))
  assert.equal(methodDescription(ex), 'KURA example-endoscopy 1.0.0')
  assert.deepEqual(ex.overrides, [{ tag: 0x00100040, action: 'K' }, { tag: 0x00181030, action: 'X' }])
  assert.deepEqual(ex.safePrivate, [{ creator: 'SIEMENS CT VA0  COAD', elements: [{ group: 0x0019, element: 0x10 }] }])
  assert.ok(ex.options.has('cleanPixelData') && ex.options.has('retainSafePrivate'))
})

test('YAML policies: same validation as JSON, with line numbers; syntax errors name the line; tags need no quotes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-policy-'))
  try {
    const bad = join(dir, 'bad.yml')
    writeFileSync(bad, [
      'id: a', //                                   line 1
      'version: 1.0', //                            line 2: a number, not a string
      'profile: basic', //                          line 3
      'options:', //                                line 4
      '  - retainUids', //                          line 5
      '  - retainUIDs', //                          line 6
      'overrides:', //                              line 7
      '  - tag: 00100040', //                       line 8: unquoted, taken as written
      '    action: Q', //                           line 9
      '  - tag: 0010E040', //                       line 10: YAML reads a float; still a tag
      '    action: K', //                           line 11
      'overide: []', //                             line 12
    ].join('\n'))
    let err: KuraError | undefined
    try {
      loadPolicy(bad)
    } catch (e) {
      err = e as KuraError
    }
    assert.ok(err && isKuraError(err) && err.code === 'DEID_POLICY_INVALID', String(err))
    const problems = err.details!.problems as Array<{ path: string; line?: number }>
    assert.deepEqual(problems.map((p) => [p.path, p.line]).sort(), [['$.options[1]', 6], ['$.overide', 12], ['$.overrides[0].action', 9], ['$.version', 2]].sort())
    assert.match(err.message, /\$\.options\[1\] \(line 6\): one of/)
    assert.match(err.message, /bad\.yml/)
    // The same mistakes in JSON give the same paths, without lines.
    assert.deepEqual(
      problemsOf({ id: 'a', version: 1, profile: 'basic', options: ['retainUids', 'retainUIDs'], overrides: [{ tag: '00100040', action: 'Q' }, { tag: '0010E040', action: 'K' }], overide: [] }).sort(),
      problems.map((p) => p.path).sort(),
    )
    const syntax = join(dir, 'syntax.yaml')
    writeFileSync(syntax, 'id: a\nversion: "1"\nprofile: basic\noptions: [cleanDescriptors\n')
    assert.throws(() => loadPolicy(syntax), (e: unknown) => isKuraError(e) && e.code === 'DEID_POLICY_NOT_YAML' && /line \d+, column \d+/.test(e.message))
    const dup = join(dir, 'dup.yaml')
    writeFileSync(dup, 'id: a\nid: b\nversion: "1"\nprofile: basic\n')
    assert.throws(() => loadPolicy(dup), (e: unknown) => isKuraError(e) && e.code === 'DEID_POLICY_NOT_YAML' && /line 2/.test(e.message))
    writeFileSync(join(dir, 'list.yaml'), '- a\n- b\n')
    assert.throws(() => loadPolicy(join(dir, 'list.yaml')), (e: unknown) => isKuraError(e) && e.code === 'DEID_POLICY_INVALID' && /\$ \(line 1\)/.test(e.message))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('slides section: defaults keep today\'s behaviour; keep-with-label-blacked-out and per-vendor areas; errors by path', () => {
  assert.deepEqual(BASIC_POLICY.slides, { macro: 'remove', macroLabelArea: { aperio: [0, 0, 0.4, 1], hamamatsu: [0, 0, 0.4, 1] } })
  const p = parsePolicy({ ...EXAMPLE, slides: { macro: 'keep-with-label-blacked-out', macroLabelArea: { hamamatsu: [0.7, 0, 0.3, 1] } } })
  assert.equal(p.slides.macro, 'keep-with-label-blacked-out')
  assert.deepEqual(p.slides.macroLabelArea, { aperio: [0, 0, 0.4, 1], hamamatsu: [0.7, 0, 0.3, 1] })
  assert.deepEqual(
    problemsOf({ ...EXAMPLE, slides: { macro: 'keep', labelArea: {}, macroLabelArea: { aperio: [0, 0, 0.5, 1.2], leica: [0, 0, 1, 1], hamamatsu: [0.8, 0, 0.3, 1] } } }).sort(),
    ['$.slides.labelArea', '$.slides.macro', '$.slides.macroLabelArea.aperio', '$.slides.macroLabelArea.hamamatsu', '$.slides.macroLabelArea.leica'].sort(),
  )
  assert.deepEqual(problemsOf({ ...EXAMPLE, slides: 'keep' }), ['$.slides'])
  assert.deepEqual(problemsOf({ ...EXAMPLE, slides: { macroLabelArea: { aperio: [0, 0, 0, 1] } } }), ['$.slides.macroLabelArea.aperio'])
  assert.throws(() => parsePolicy({ ...EXAMPLE, slides: { macro: 'keep' } }), (e: unknown) => isKuraError(e) && /\$\.slides\.macro: one of "remove", "keep-with-label-blacked-out", got "keep"/.test(e.message))
})
