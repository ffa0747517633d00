/**
 * Vocabularies on both catalog engines: shipped sets load once per version, levels come from the hierarchy,
 * finer codes roll up, labels are checked against a collection's choice, and licensed masters import from CSV/TSV
 * in UTF-8 or Shift_JIS.
 */
import { after, before, it } from 'node:test'
import assert from 'node:assert/strict'
import { newId } from '@kura/core'
import { describeEachEngine, openTestCatalog, type TestCatalog } from '@kura/storage/testing'
import { loadShippedVocabularies, parseColumnMap, parseVocabularyTable, shippedVocabularies } from './vocabulary-file.ts'
import { codeLevels, codeMap, collectionVocabularies, findVocabulary, loadVocabulary, resolveLabel, rollUp, setCollectionVocabularies, vocabularyCodes } from './vocabularies.ts'

const code = (c: string) => (e: any) => e?.code === c

describeEachEngine('vocabularies', (engine) => {
  let t: TestCatalog
  let collectionId: string
  before(async () => {
    t = await openTestCatalog(engine)
    collectionId = newId()
    await t.catalog.db.insertInto('collection').values({ id: collectionId, name: 'voc', created_at: new Date().toISOString() }).execute()
  })
  after(async () => t?.cleanup())

  it('loads every shipped vocabulary once, with Japanese and English meanings', async () => {
    const db = t.catalog.db
    const first = await loadShippedVocabularies(db)
    assert.equal(first.length, shippedVocabularies().length)
    assert.ok(first.every((v) => v.created))
    const again = await loadShippedVocabularies(db)
    assert.ok(again.every((v) => !v.created), 'a second start adds nothing')
    assert.equal(Number((await db.selectFrom('vocabulary').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n), first.length)
    const systems = first.map((v) => v.vocabulary.system).sort()
    assert.deepEqual(systems, ['KURA-GROUP', 'KURA-HE-TISSUE', 'KURA-JES-ME', 'KURA-JNET', 'KURA-PARIS', 'KURA-RAD'])
    const group = (await findVocabulary(db, 'KURA-GROUP', '2026.1'))!
    const codes = await vocabularyCodes(db, group.id)
    assert.deepEqual(codes.map((c) => c.code), ['X', '1', '2', '3', '4', '5'])
    assert.ok(codes.every((c) => c.meaningEn && c.meaningJa))
    assert.match(codes[5]!.meaningJa, /癌/)
  })

  it('derives levels from parents and rolls finer codes up to a coarser level', async () => {
    const db = t.catalog.db
    const he = (await findVocabulary(db, 'KURA-HE-TISSUE', '2026.1'))!
    const map = await codeMap(db, he.id)
    assert.equal(map.get('tissue')!.level, 0)
    assert.equal(map.get('tumour')!.level, 1)
    assert.equal(map.get('artefact-pen')!.level, 2)
    assert.equal(rollUp(map, 'artefact-pen', 1), 'artefact')
    assert.equal(rollUp(map, 'artefact-pen', 0), 'non-tissue')
    assert.equal(rollUp(map, 'tumour', 0), 'tissue')
    assert.equal(rollUp(map, 'tissue', 1), 'tissue', 'a code coarser than the level stays itself')
    assert.equal(rollUp(map, 'no-such', 0), undefined)
    assert.deepEqual((await vocabularyCodes(db, he.id, { level: 0 })).map((c) => c.code), ['tissue', 'non-tissue'])
  })

  it('refuses files with duplicate codes, missing parents or cycles', () => {
    assert.throws(() => codeLevels([{ code: 'a', meaningEn: 'A' }, { code: 'a', meaningEn: 'A' }]), code('VOCABULARY_BAD_FILE'))
    assert.throws(() => codeLevels([{ code: 'a', meaningEn: 'A', parent: 'zz' }]), /parent "zz"/)
    assert.throws(() => codeLevels([{ code: 'a', meaningEn: 'A', parent: 'b' }, { code: 'b', meaningEn: 'B', parent: 'a' }]), /own ancestor/)
  })

  it('never changes a loaded version: the same system and version again is a conflict', async () => {
    const content = { system: 'TEST-X', version: '1', name: 'x', licence: 'test', codes: [{ code: 'a', meaningEn: 'A' }] }
    await loadVocabulary(t.catalog.db, content, 'imported')
    await assert.rejects(loadVocabulary(t.catalog.db, content, 'imported'), code('VOCABULARY_EXISTS'))
    const v2 = await loadVocabulary(t.catalog.db, { ...content, version: '2', codes: [{ code: 'a', meaningEn: 'A' }, { code: 'b', meaningEn: 'B' }] }, 'imported')
    assert.ok(v2.created)
  })

  it('checks labels against the collection choice, its level, and code status', async () => {
    const db = t.catalog.db
    // No choice yet: any loaded vocabulary will do.
    const r = await resolveLabel(db, collectionId, { system: 'KURA-JNET', code: '2A' })
    assert.equal(r.version, '2026.1')
    await assert.rejects(resolveLabel(db, collectionId, { system: 'NOPE', code: '1' }), code('VOCABULARY_UNKNOWN_SYSTEM'))
    await assert.rejects(resolveLabel(db, collectionId, { system: 'KURA-JNET', code: '9' }), code('VOCABULARY_UNKNOWN_CODE'))
    await assert.rejects(resolveLabel(db, collectionId, { system: 'KURA-JNET', code: '' } as any), code('VOCABULARY_BAD_REQUEST'))
    // Newest version when none is named.
    assert.equal((await resolveLabel(db, collectionId, { system: 'TEST-X', code: 'a' })).version, '2')
    assert.equal((await resolveLabel(db, collectionId, { system: 'TEST-X', code: 'a', version: '1' })).version, '1')

    const he = (await findVocabulary(db, 'KURA-HE-TISSUE', '2026.1'))!
    const paris = (await findVocabulary(db, 'KURA-PARIS', '2026.1'))!
    const chosen = await setCollectionVocabularies(db, collectionId, [{ vocabularyId: he.id, level: 1 }, { vocabularyId: paris.id, level: 1 }])
    assert.deepEqual(chosen.map((c) => [c.vocabulary.system, c.level]), [['KURA-HE-TISSUE', 1], ['KURA-PARIS', 1]])
    assert.equal((await collectionVocabularies(db, collectionId)).length, 2)
    await assert.rejects(resolveLabel(db, collectionId, { system: 'KURA-JNET', code: '2A' }), code('VOCABULARY_NOT_ENABLED'))
    await assert.rejects(resolveLabel(db, collectionId, { system: 'KURA-HE-TISSUE', code: 'tissue' }), code('VOCABULARY_WRONG_LEVEL'))
    assert.equal((await resolveLabel(db, collectionId, { system: 'KURA-HE-TISSUE', code: 'tumour' })).code, 'tumour')
    assert.equal((await resolveLabel(db, collectionId, { system: 'KURA-HE-TISSUE', code: 'artefact-pen' })).code, 'artefact-pen', 'finer than the level is fine')
    assert.equal((await resolveLabel(db, collectionId, { system: 'KURA-PARIS', code: '0-III' })).code, '0-III', 'a level-0 code with nothing finer is fine')
    await assert.rejects(setCollectionVocabularies(db, collectionId, [{ vocabularyId: newId(), level: null }]), code('VOCABULARY_NOT_FOUND'))

    const retired = await loadVocabulary(db, { system: 'TEST-R', version: '1', name: 'r', licence: 't', codes: [{ code: 'old', meaningEn: 'Old', status: 'retired' }, { code: 'new', meaningEn: 'New' }] }, 'imported')
    await setCollectionVocabularies(db, collectionId, [{ vocabularyId: retired.vocabulary.id, level: null }])
    await assert.rejects(resolveLabel(db, collectionId, { system: 'TEST-R', code: 'old' }), code('VOCABULARY_RETIRED_CODE'))
    assert.deepEqual((await vocabularyCodes(db, retired.vocabulary.id)).map((c) => c.code), ['new'])
    await setCollectionVocabularies(db, collectionId, [])
  })
})

it('reads a quoted CSV with a header in any order, and statuses as words or RF2 flags', () => {
  const csv = 'Meaning_JA,code,meaning_en,parent,status\r\n組織,T,"Tissue, any",,active\r\n腫瘍,T1,"The ""tumour""",T,1\r\n旧,T0,Old,T,0\r\n'
  const codes = parseVocabularyTable(Buffer.from(csv))
  assert.deepEqual(codes, [
    { code: 'T', meaningEn: 'Tissue, any', meaningJa: '組織', parent: null, status: 'active' },
    { code: 'T1', meaningEn: 'The "tumour"', meaningJa: '腫瘍', parent: 'T', status: 'active' },
    { code: 'T0', meaningEn: 'Old', meaningJa: '旧', parent: 'T', status: 'retired' },
  ])
})

it('reads a Shift_JIS TSV with mapped column names', () => {
  // "ConceptId\tTerm\tJapanese\n1\tFoo\tあ結\n" with あ = 82 A0, 結 = 8C 8B in Shift_JIS.
  const bytes = Buffer.concat([Buffer.from('ConceptId\tTerm\tJapanese\n1\tFoo\t'), Buffer.from([0x82, 0xa0, 0x8c, 0x8b]), Buffer.from('\n')])
  const codes = parseVocabularyTable(bytes, { columns: parseColumnMap('code=ConceptId,meaning_en=Term,meaning_ja=Japanese') })
  assert.deepEqual(codes, [{ code: '1', meaningEn: 'Foo', meaningJa: 'あ結', parent: null, status: 'active' }])
  assert.throws(() => parseVocabularyTable(bytes, { encoding: 'utf-8' }), code('VOCABULARY_BAD_FILE'))
  assert.throws(() => parseVocabularyTable(Buffer.from('foo,bar\n1,2\n')), /no code column/)
  assert.throws(() => parseColumnMap('colour=x'), code('VOCABULARY_BAD_REQUEST'))
  assert.throws(() => parseVocabularyTable(Buffer.from('code,meaning_en,status\n1,a,maybe\n')), /row 2: status/)
})
