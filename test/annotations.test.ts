/**
 * Annotation, label and vocabulary routes end to end: who may read, draw, change, review and choose vocabularies;
 * label validation against the collection's choice; viewport queries; vocabulary import; audit details.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { newId } from '@kura/core'
import { createToken } from '@kura/hub'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startTestHub, stowBody, PYDICOM_FILES, type TestHub } from './support/hub.ts'

type Who = 'admin' | 'annotator1' | 'annotator2' | 'reviewer' | 'researcher' | 'curator'

describe('annotation routes', () => {
  let hub: TestHub
  const tokens = {} as Record<Who, string>
  const ids = {} as Record<Who, string>
  let slideA: string, slideB: string

  const call = async (who: Who, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const h: Record<string, string> = { authorization: `Bearer ${tokens[who]}`, ...headers }
    let payload: string | Uint8Array | undefined
    if (typeof body === 'string' || body instanceof Uint8Array) payload = body
    else if (body !== undefined) {
      payload = JSON.stringify(body)
      h['content-type'] = 'application/json'
    }
    const res = await fetch(`${hub.url}/api${path}`, { method, headers: h, body: payload })
    const text = await res.text()
    return { status: res.status, body: text ? JSON.parse(text) : null }
  }
  const square = (x: number, y: number, s: number) => ({ type: 'Polygon', coordinates: [[[x, y], [x + s, y], [x + s, y + s], [x, y + s], [x, y]]] })
  const tumour = { system: 'KURA-HE-TISSUE', code: 'tumour' }

  before(async () => {
    hub = await startTestHub()
    tokens.admin = hub.adminToken
    const adminCall = (path: string, body: unknown) => hub.fetch(`${hub.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    for (const name of ['ann-a', 'ann-b']) assert.equal((await adminCall('/api/collections', { name })).status, 201)
    const roles: [Who, string][] = [['annotator1', 'annotator'], ['annotator2', 'annotator'], ['reviewer', 'reviewer'], ['researcher', 'researcher'], ['curator', 'curator']]
    for (const [who, role] of roles) {
      const u = (await (await adminCall('/api/users', { username: `ann-${who}` })).json()) as { user: { id: string } }
      assert.equal((await adminCall('/api/grants', { userId: u.user.id, role, collection: 'ann-a' })).status, 201)
      ids[who] = u.user.id
      tokens[who] = (await createToken(hub.archive.catalog.db, { userId: u.user.id, name: 't', role: role as never, collection: 'ann-a' })).token
    }
    const db = hub.archive.catalog.db
    const coll = await db.selectFrom('collection').select(['id', 'name']).execute()
    const now = new Date().toISOString()
    slideA = newId()
    slideB = newId()
    for (const [id, name] of [[slideA, 'ann-a'], [slideB, 'ann-b']] as const) {
      await db
        .insertInto('slide')
        .values({ id, collection_id: coll.find((c) => c.name === name)!.id, sha256: id, object_key: `slides/${id}`, size: 1, format: 'test', width: 10_000, height: 10_000, levels: '[]', mpp_x: null, mpp_y: null, objective_power: null, properties: '{}', associated: '[]', created_at: now })
        .execute()
    }
  })
  after(async () => hub?.close())

  it('lists the shipped vocabularies to readers, with levels and roll-up', async () => {
    const list = await call('researcher', 'GET', '/vocabularies')
    assert.equal(list.status, 200)
    const he = list.body.find((v: any) => v.system === 'KURA-HE-TISSUE')
    assert.ok(he && list.body.some((v: any) => v.system === 'KURA-RAD'))
    const level0 = await call('researcher', 'GET', `/vocabularies/${he.id}?level=0`)
    assert.deepEqual(level0.body.codes.map((c: any) => c.code), ['tissue', 'non-tissue'])
    assert.equal(level0.body.rollUp['artefact-pen'], 'non-tissue')
    assert.equal(level0.body.rollUp.tumour, 'tissue')
    assert.equal((await call('researcher', 'GET', `/vocabularies/${newId()}`)).status, 404)
  })

  it('lets curators (not annotators) choose a collection\'s vocabularies, and hides other collections', async () => {
    const vocabularies = (await call('curator', 'GET', '/vocabularies')).body
    const he = vocabularies.find((v: any) => v.system === 'KURA-HE-TISSUE')
    const group = vocabularies.find((v: any) => v.system === 'KURA-GROUP')
    const choice = { vocabularies: [{ id: he.id, level: 1 }, { id: group.id }] }
    assert.equal((await call('annotator1', 'PUT', '/collections/ann-a/vocabularies', choice)).status, 403)
    const put = await call('curator', 'PUT', '/collections/ann-a/vocabularies', choice)
    assert.equal(put.status, 200, JSON.stringify(put.body))
    const got = await call('researcher', 'GET', '/collections/ann-a/vocabularies')
    assert.deepEqual(got.body.map((c: any) => [c.vocabulary.system, c.level]), [['KURA-GROUP', null], ['KURA-HE-TISSUE', 1]])
    assert.equal((await call('researcher', 'GET', '/collections/ann-b/vocabularies')).status, 404)
    assert.equal((await call('curator', 'PUT', '/collections/ann-a/vocabularies', { vocabularies: 'x' })).status, 400)
  })

  it('lets annotators draw (one or many) and readers read; researchers cannot draw', async () => {
    const one = await call('annotator1', 'POST', `/slides/${slideA}/annotations`, { shape: 'polygon', geometry: square(100, 100, 50), label: tumour })
    assert.equal(one.status, 201, JSON.stringify(one.body))
    assert.equal(one.body.author, ids.annotator1)
    assert.equal(one.body.label.version, '2026.1')
    const many = await call('annotator2', 'POST', `/slides/${slideA}/annotations`, [
      { shape: 'point', geometry: { type: 'Point', coordinates: [120, 120] }, label: { system: 'KURA-HE-TISSUE', code: 'lymphocytes' } },
      { shape: 'rectangle', geometry: square(5000, 5000, 100), label: { system: 'KURA-HE-TISSUE', code: 'stroma' }, status: 'submitted' },
    ])
    assert.equal(many.status, 201)
    assert.equal(many.body.length, 2)
    assert.equal((await call('researcher', 'POST', `/slides/${slideA}/annotations`, { shape: 'polygon', geometry: square(0, 0, 5), label: tumour })).status, 403)

    const view = await call('researcher', 'GET', `/slides/${slideA}/annotations?x=0&y=0&w=1000&h=1000`)
    assert.equal(view.status, 200)
    assert.equal(view.body.count, 2)
    assert.equal(view.body.truncated, false)
    const mine = await call('researcher', 'GET', `/slides/${slideA}/annotations?x=0&y=0&w=10000&h=10000&author=${ids.annotator2}&status=submitted`)
    assert.deepEqual(mine.body.annotations.map((a: any) => a.label.code), ['stroma'])
    const listed = await call('researcher', 'GET', `/slides/${slideA}/annotations?label=tumour,stroma`)
    assert.equal(listed.body.count, 2)
    assert.equal((await call('researcher', 'GET', `/slides/${slideA}/annotations?x=0&y=0`)).status, 400)
    assert.equal((await call('researcher', 'GET', `/slides/${slideB}/annotations?x=0&y=0&w=10&h=10`)).status, 404, 'another collection\'s slide does not exist for them')
    assert.equal((await call('annotator1', 'POST', `/slides/${slideB}/annotations`, { shape: 'polygon', geometry: square(0, 0, 5), label: tumour })).status, 404)
    assert.equal((await call('annotator1', 'POST', `/slides/${newId()}/annotations`, { shape: 'polygon', geometry: square(0, 0, 5), label: tumour })).status, 404)
  })

  it('validates labels and geometry with errors that say what to do', async () => {
    const post = (body: unknown) => call('annotator1', 'POST', `/slides/${slideA}/annotations`, body)
    const notEnabled = await post({ shape: 'polygon', geometry: square(0, 0, 5), label: { system: 'KURA-JNET', code: '2A' } })
    assert.equal(notEnabled.status, 422)
    assert.equal(notEnabled.body.code, 'VOCABULARY_NOT_ENABLED')
    assert.match(notEnabled.body.message, /PUT \/api\/collections/)
    assert.equal((await post({ shape: 'polygon', geometry: square(0, 0, 5), label: { system: 'KURA-HE-TISSUE', code: 'tissue' } })).body.code, 'VOCABULARY_WRONG_LEVEL')
    assert.equal((await post({ shape: 'polygon', geometry: square(0, 0, 5), label: { system: 'KURA-HE-TISSUE', code: 'martian' } })).body.code, 'VOCABULARY_UNKNOWN_CODE')
    assert.equal((await post({ shape: 'polygon', geometry: square(0, 0, 5), label: 'tumour' })).status, 400)
    const geom = await post({ shape: 'polygon', geometry: { type: 'Polygon', coordinates: [[[0, 0], [1, 1]]] }, label: tumour })
    assert.equal(geom.status, 422)
    assert.equal(geom.body.code, 'ANNOTATION_BAD_GEOMETRY')
    assert.equal((await post({ shape: 'polygon', geometry: square(0, 0, 5), label: tumour, author: 'someone-else' })).status, 400)
    assert.equal((await post({ shape: 'polygon', geometry: square(0, 0, 5), label: tumour, author: 'ai:model' })).body.code, 'ANNOTATION_REVIEW_ONLY')
    assert.equal((await post([])).status, 400)
  })

  it('lets only the author or a reviewer change work, and only a reviewer accept it', async () => {
    const a = (await call('annotator1', 'POST', `/slides/${slideA}/annotations`, { shape: 'polygon', geometry: square(300, 300, 20), label: tumour })).body
    assert.equal((await call('annotator2', 'PATCH', `/annotations/${a.id}`, { label: { system: 'KURA-HE-TISSUE', code: 'stroma' } })).body.code, 'ANNOTATION_NOT_AUTHOR')
    assert.equal((await call('annotator2', 'DELETE', `/annotations/${a.id}`)).status, 403)
    assert.equal((await call('researcher', 'PATCH', `/annotations/${a.id}`, { status: 'submitted' })).status, 403)
    const submitted = await call('annotator1', 'PATCH', `/annotations/${a.id}`, { status: 'submitted', geometry: square(300, 300, 30) })
    assert.equal(submitted.status, 200)
    assert.equal(submitted.body.status, 'submitted')
    assert.equal((await call('annotator1', 'PATCH', `/annotations/${a.id}`, { status: 'accepted' })).body.code, 'ANNOTATION_REVIEW_ONLY')
    assert.equal((await call('annotator1', 'PATCH', `/annotations/${a.id}`, { colour: 'red' })).status, 400)
    const accepted = await call('reviewer', 'PATCH', `/annotations/${a.id}`, { status: 'accepted' })
    assert.equal(accepted.status, 200)
    assert.equal(accepted.body.author, ids.annotator1, 'the author stays the author')
    assert.equal((await call('annotator1', 'PATCH', `/annotations/${a.id}`, { geometry: square(0, 0, 9) })).body.code, 'ANNOTATION_LOCKED')
    assert.equal((await call('reviewer', 'PATCH', `/annotations/${a.id}`, { status: 'draft' })).body.code, 'ANNOTATION_BAD_STATUS')
    const history = await call('researcher', 'GET', `/annotations/${a.id}/history`)
    assert.deepEqual(history.body.map((h: any) => [h.op, h.author]), [['create', ids.annotator1], ['update', ids.annotator1], ['update', ids.reviewer]])
    assert.equal((await call('researcher', 'GET', `/annotations/${a.id}`)).body.status, 'accepted')
    assert.equal((await call('reviewer', 'DELETE', `/annotations/${a.id}`)).status, 204)
    assert.equal((await call('researcher', 'GET', `/annotations/${a.id}`)).status, 404)
    assert.equal((await call('researcher', 'GET', `/annotations/${a.id}/history`)).body.length, 4, 'the deletion is kept in the history')
  })

  it('keeps image-level labels with the same rules', async () => {
    const l = await call('annotator1', 'POST', `/slides/${slideA}/labels`, { label: { system: 'KURA-GROUP', code: '5' } })
    assert.equal(l.status, 201, JSON.stringify(l.body))
    assert.equal((await call('researcher', 'POST', `/slides/${slideA}/labels`, { label: { system: 'KURA-GROUP', code: '1' } })).status, 403)
    assert.equal((await call('annotator1', 'POST', `/slides/${slideA}/labels`, { label: { system: 'KURA-GROUP', code: '9' } })).status, 422)
    assert.deepEqual((await call('researcher', 'GET', `/slides/${slideA}/labels`)).body.map((x: any) => x.label.code), ['5'])
    assert.equal((await call('annotator2', 'DELETE', `/labels/${l.body.id}`)).status, 403)
    assert.equal((await call('annotator1', 'PATCH', `/labels/${l.body.id}`, { label: { system: 'KURA-GROUP', code: '4' } })).body.label.code, '4')
    assert.equal((await call('annotator1', 'DELETE', `/labels/${l.body.id}`)).status, 204)
    assert.equal((await call('researcher', 'GET', `/slides/${slideA}/labels`)).body.length, 0)
  })

  it('imports a licensed vocabulary from CSV (reviewers and curators only), once per version', async () => {
    const csv = 'code,meaning_en,meaning_ja,parent\nroot,Root,根,\nleaf,Leaf,葉,root\n'
    const path = '/vocabularies/import?system=LOCAL-TEST&version=2026-09&name=Local'
    assert.equal((await call('annotator1', 'POST', path, csv, { 'content-type': 'text/csv' })).status, 403)
    const ok = await call('curator', 'POST', path, csv, { 'content-type': 'text/csv' })
    assert.equal(ok.status, 201, JSON.stringify(ok.body))
    assert.equal(ok.body.codes, 2)
    assert.equal(ok.body.origin, 'imported')
    assert.equal((await call('curator', 'POST', path, csv, { 'content-type': 'text/csv' })).body.code, 'VOCABULARY_EXISTS')
    assert.equal((await call('curator', 'POST', path, {})).status, 400)
    const codes = await call('researcher', 'GET', `/vocabularies/${ok.body.id}`)
    assert.deepEqual(codes.body.codes.map((c: any) => [c.code, c.level, c.meaningJa]), [['root', 0, '根'], ['leaf', 1, '葉']])
  })

  it('annotates and labels a DICOM image (an endoscopy frame, a CT slice) by its UIDs', async () => {
    const { body, contentType } = stowBody([await readFile(join(PYDICOM_FILES, 'CT_small.dcm'))])
    const stored = await hub.fetch(`${hub.dicomweb}/studies?collection=ann-a`, { method: 'POST', headers: { 'content-type': contentType, accept: 'application/dicom+json' }, body })
    assert.equal(stored.status, 200)
    const url = ((await stored.json()) as any)['00081199'].Value[0]['00081190'].Value[0] as string
    const [, , , study, , series, , sop] = new URL(url).pathname.split('/')
    const base = `/studies/${study}/series/${series}/instances/${sop}`
    const rad = (await call('curator', 'GET', '/vocabularies')).body.find((v: any) => v.system === 'KURA-RAD')
    const he = (await call('curator', 'GET', '/vocabularies')).body.find((v: any) => v.system === 'KURA-HE-TISSUE')
    const group = (await call('curator', 'GET', '/vocabularies')).body.find((v: any) => v.system === 'KURA-GROUP')
    assert.equal((await call('curator', 'PUT', '/collections/ann-a/vocabularies', { vocabularies: [{ id: he.id, level: 1 }, { id: group.id }, { id: rad.id }] })).status, 200)
    const nodule = await call('annotator1', 'POST', `${base}/annotations`, { shape: 'ellipse', geometry: square(10, 10, 20), ellipse: { cx: 20, cy: 20, rx: 10, ry: 10, rotation: 0 }, label: { system: 'KURA-RAD', code: 'nodule-solid' } })
    assert.equal(nodule.status, 201, JSON.stringify(nodule.body))
    assert.deepEqual(nodule.body.target, { kind: 'instance', studyInstanceUid: study, seriesInstanceUid: series, sopInstanceUid: sop })
    const view = await call('researcher', 'GET', `${base}/annotations?x=0&y=0&w=64&h=64`)
    assert.deepEqual(view.body.annotations.map((a: any) => a.id), [nodule.body.id])
    const label = await call('annotator1', 'POST', `${base}/labels`, { label: { system: 'KURA-RAD', code: 'pleural-effusion' } })
    assert.equal(label.status, 201)
    assert.equal((await call('researcher', 'GET', `${base}/labels`)).body.length, 1)
    assert.equal((await call('annotator1', 'POST', `/studies/${study}/series/${series}/instances/1.2.3.4/annotations`, { shape: 'point', geometry: { type: 'Point', coordinates: [1, 1] }, label: { system: 'KURA-RAD', code: 'mass' } })).status, 404)
  })

  it('records what each change did in the audit log', async () => {
    const made = await call('annotator1', 'POST', `/slides/${slideA}/annotations`, { shape: 'polygon', geometry: square(700, 700, 10), label: tumour })
    await (hub.app as unknown as { auditLog: { flush(): Promise<void> } }).auditLog.flush()
    const rows = await hub.archive.catalog.db.selectFrom('audit_event').select(['collection', 'detail', 'outcome']).where('collection', '=', 'ann-a').execute()
    const created = rows.map((r) => JSON.parse(r.detail)).find((d) => Array.isArray(d.annotations) && d.annotations.includes(made.body.id))
    assert.ok(created, 'the create is audited with the annotation id')
    assert.equal(created.created, 1)
    assert.equal(created.target.slide, slideA)
  })
})
