/**
 * Annotation tasks over HTTP: a task with two readers and a reviewer, readings through the annotation API,
 * submit, progress, review side by side, adjudication (accept, edit, reject), ground truth with provenance, and
 * agreement numbers worked out by hand; and who may see and do what.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createToken } from '@kura/hub'
import { startTestHub, stowBody, PYDICOM_FILES, type TestHub } from './support/hub.ts'

const rect = (x0: number, y0: number, x1: number, y1: number) => ({ type: 'Polygon', coordinates: [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]] })
const close = (actual: unknown, expected: number, what: string) => assert.ok(typeof actual === 'number' && Math.abs(actual - expected) < 1e-9, `${what}: ${String(actual)} ≠ ${expected}`)

describe('annotation tasks over HTTP', () => {
  let hub: TestHub
  const tokens: Record<string, string> = {}
  const ids: Record<string, string> = {}
  const images: { study: string; series: string; sop: string }[] = []
  const admin = (path: string, init: RequestInit = {}) => hub.fetch(`${hub.url}${path}`, { ...init, headers: init.body ? { 'content-type': 'application/json' } : {} })
  const as = (who: string, path: string, body?: unknown, method = body === undefined ? 'GET' : 'POST') =>
    globalThis.fetch(`${hub.url}${path}`, { method, headers: { authorization: `Bearer ${tokens[who]}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) })
  const json = async (res: Response, status = 200) => {
    const text = await res.text()
    assert.equal(res.status, status, text.slice(0, 500))
    return JSON.parse(text)
  }
  const instancePath = (i: number) => `/api/studies/${images[i]!.study}/series/${images[i]!.series}/instances/${images[i]!.sop}`

  before(async () => {
    hub = await startTestHub()
    for (const name of ['tasks-a', 'tasks-b']) assert.equal((await admin('/api/collections', { method: 'POST', body: JSON.stringify({ name }) })).status, 201)
    for (const file of ['CT_small.dcm', 'MR_small.dcm']) {
      const { body, contentType } = stowBody([await readFile(join(PYDICOM_FILES, file))])
      const res = await hub.fetch(`${hub.dicomweb}/studies?collection=tasks-a`, { method: 'POST', headers: { 'content-type': contentType, accept: 'application/dicom+json' }, body })
      assert.equal(res.status, 200, await res.clone().text())
      const url = ((await res.json()) as any)['00081199'].Value[0]['00081190'].Value[0] as string
      const [, , , study, , series, , sop] = new URL(url).pathname.split('/')
      images.push({ study: study!, series: series!, sop: sop! })
    }
    for (const [name, role, collection] of [['ann1', 'annotator', 'tasks-a'], ['ann2', 'annotator', 'tasks-a'], ['ann3', 'annotator', 'tasks-a'], ['rev', 'reviewer', 'tasks-a'], ['res', 'researcher', 'tasks-a'], ['revb', 'reviewer', 'tasks-b']] as const) {
      const u = await json(await admin('/api/users', { method: 'POST', body: JSON.stringify({ username: name }) }), 201)
      assert.equal((await admin('/api/grants', { method: 'POST', body: JSON.stringify({ userId: u.user.id, role, collection }) })).status, 201)
      ids[name] = u.user.id
      tokens[name] = (await createToken(hub.archive.catalog.db, { userId: u.user.id, name: 't', role, collection })).token
    }
  })
  after(async () => hub?.close())

  const newTask = (over: Record<string, unknown> = {}) => ({
    collection: 'tasks-a',
    name: 'CT and MR findings',
    kind: 'both',
    annotators: [ids.ann1, ids.ann2],
    annotatorsPerItem: 2,
    reviewer: ids.rev,
    items: images.map((i) => ({ studyInstanceUid: i.study, seriesInstanceUid: i.series, sopInstanceUid: i.sop })),
    ...over,
  })

  it('runs a task: readings, submit, progress, review, adjudication, ground truth, agreement', async () => {
    const task = await json(await as('rev', '/api/tasks', newTask()), 201)
    assert.equal(task.items, 2)
    const other = await json(await as('rev', '/api/tasks', newTask({ name: 'Other', annotators: [ids.ann3], annotatorsPerItem: 1 })), 201)

    // Who sees what.
    assert.deepEqual((await json(await as('ann1', '/api/tasks'))).map((t: any) => t.id), [task.id])
    assert.deepEqual((await json(await as('ann3', '/api/tasks'))).map((t: any) => t.id), [other.id])
    assert.equal((await as('ann3', `/api/tasks/${task.id}`)).status, 404)
    assert.equal((await as('ann3', `/api/tasks/${task.id}/items`)).status, 404)
    assert.equal((await as('revb', `/api/tasks/${task.id}`)).status, 404)
    assert.deepEqual(await json(await as('revb', '/api/tasks')), [])
    assert.equal((await as('res', '/api/tasks')).status, 403)
    assert.equal((await as('res', `/api/tasks/${task.id}`)).status, 403)
    assert.equal(new Set((await json(await as('rev', '/api/tasks'))).map((t: any) => t.id)).size, 2)
    assert.deepEqual(new Set((await json(await admin('/api/tasks'))).map((t: any) => t.id)), new Set([task.id, other.id]))
    assert.equal((await json(await admin(`/api/tasks/${task.id}`))).itemProgress.length, 2)

    const items = await json(await as('ann1', `/api/tasks/${task.id}/items`))
    assert.equal(items.length, 2)
    assert.deepEqual(items.map((i: any) => i.state), ['todo', 'todo'])

    // Readings through the annotation API. Labels (KURA-GROUP): i1 1/1, i2 1/5. Tumour: i1 [0,10]² vs
    // [5,15]×[0,10]; i2 [0,4]² vs [2,6]².
    const draw = async (who: string, i: number, geometry: object) =>
      json(await as(who, `${instancePath(i)}/annotations`, { shape: 'polygon', geometry, label: { system: 'KURA-HE-TISSUE', code: 'tumour' }, taskId: task.id }), 201)
    const label = async (who: string, i: number, code: string) => json(await as(who, `${instancePath(i)}/labels`, { label: { system: 'KURA-GROUP', code }, taskId: task.id }), 201)
    const a1 = await draw('ann1', 0, rect(0, 0, 10, 10))
    const b1 = await draw('ann2', 0, rect(5, 0, 15, 10))
    await draw('ann1', 1, rect(0, 0, 4, 4))
    const b2 = await draw('ann2', 1, rect(2, 2, 6, 6))
    const l1 = await label('ann1', 0, '1')
    const l2 = await label('ann2', 0, '1')
    await label('ann1', 1, '1')
    await label('ann2', 1, '5')
    assert.equal(a1.status, 'draft')
    assert.deepEqual((await json(await as('ann1', `/api/tasks/${task.id}/items`))).map((i: any) => i.state), ['in_progress', 'in_progress'])
    // Blind reading: a reader sees only their own task work in the viewport; the reviewer sees both readers'.
    const inView = async (who: string) => ((await json(await as(who, `${instancePath(0)}/annotations?x=0&y=0&w=100&h=100`))).annotations as any[]).map((a) => a.id).sort()
    assert.deepEqual(await inView('ann1'), [a1.id])
    assert.deepEqual(await inView('ann2'), [b1.id])
    assert.deepEqual(await inView('rev'), [a1.id, b1.id].sort())
    // Another reader's item cannot be written into, and one's own submitted work is locked (below).
    assert.equal((await as('ann3', `${instancePath(0)}/annotations`, { shape: 'polygon', geometry: rect(0, 0, 1, 1), label: { system: 'KURA-HE-TISSUE', code: 'tumour' }, taskId: task.id })).status, 404)

    // Submit: drafts become submitted.
    assert.equal((await as('ann3', `/api/tasks/${task.id}/items/${items[0].id}/submit`, {})).status, 404)
    const sub = await json(await as('ann1', `/api/tasks/${task.id}/items/${items[0].id}/submit`, {}))
    assert.deepEqual(sub.submitted, { annotations: 1, imageLabels: 1 })
    assert.equal((await json(await as('ann1', `/api/annotations/${a1.id}`))).status, 'submitted')
    assert.equal((await as('ann1', `/api/annotations/${a1.id}`, { geometry: rect(0, 0, 9, 9) }, 'PATCH')).status, 409, 'submitted work is locked')
    for (const who of ['ann1', 'ann2']) for (const it of items) await json(await as(who, `/api/tasks/${task.id}/items/${it.id}/submit`, {}))

    // Progress: the reviewer sees both readers; a reader only themself.
    const progress = await json(await as('rev', `/api/tasks/${task.id}`))
    assert.deepEqual(progress.progress, { items: 2, assignments: 4, todo: 0, inProgress: 0, submitted: 4, itemsFullySubmitted: 2, itemsAdjudicated: 0 })
    assert.deepEqual(progress.annotators.map((a: any) => [a.username, a.submitted, a.annotations, a.imageLabels]).sort(), [['ann1', 2, 2, 2], ['ann2', 2, 2, 2]])
    const mine = await json(await as('ann2', `/api/tasks/${task.id}`))
    assert.deepEqual(mine.annotators.map((a: any) => a.username), ['ann2'])
    assert.deepEqual((await json(await as('ann2', '/api/tasks')))[0].progress, { todo: 0, inProgress: 0, submitted: 2, assignments: 2 })
    assert.deepEqual((await json(await as('rev', '/api/tasks'))).find((t: any) => t.id === task.id).progress, { todo: 0, inProgress: 0, submitted: 4, assignments: 4 })
    assert.ok(mine.itemProgress.every((it: any) => it.assignments.every((a: any) => a.user.username === 'ann2')))

    // Review: both readers side by side; readers cannot review or adjudicate.
    const review = await json(await as('rev', `/api/tasks/${task.id}/items/${items[0].id}/review`))
    assert.deepEqual(review.readers.map((r: any) => [r.username, r.annotations.map((a: any) => a.id), r.imageLabels.map((l: any) => l.id)]), [['ann1', [a1.id], [l1.id]], ['ann2', [b1.id], [l2.id]]])
    const refused = await as('ann1', `/api/tasks/${task.id}/items/${items[0].id}/adjudicate`, { decisions: [{ source: a1.id, decision: 'accepted' }] })
    assert.equal(refused.status, 403)
    assert.equal(((await refused.json()) as any).code, 'FORBIDDEN')
    assert.equal((await as('ann1', `/api/tasks/${task.id}/items/${items[0].id}/review`)).status, 403)
    assert.equal((await as('ann1', `/api/tasks/${task.id}/agreement`)).status, 403)

    // Agreement (before adjudication; ground truth never counts anyway).
    // Cohen, pairs (1,1) (1,5): p_o = 1/2; ann1 '1' 2/2, ann2 '1' 1/2 '5' 1/2 → p_e = 1·1/2 + 0 = 1/2 → κ = 0.
    // Fleiss: P̄ = (1 + 0)/2 = 1/2; '1' 3, '5' 1 of 4 → P̄e = 9/16 + 1/16 = 10/16 → κ = (8/16 − 10/16)/(6/16) = −1/3.
    // Tumour: i1 ∩ 50 → Dice 100/200 = 0.5, IoU 50/150 = 1/3; i2 ∩ [2,4]² = 4 → Dice 8/32 = 0.25, IoU 4/28 = 1/7.
    // Means: Dice (0.5 + 0.25)/2 = 0.375; IoU (1/3 + 1/7)/2 = 5/21.
    const ag = await json(await as('rev', `/api/tasks/${task.id}/agreement`))
    close(ag.imageLabels.pairs[0].kappa.value, 0, 'cohen')
    close(ag.imageLabels.overall.kappa.value, -1 / 3, 'fleiss')
    const tumour = ag.regions.pairs.find((p: any) => p.label === 'KURA-HE-TISSUE:tumour')
    close(tumour.dice.value, 0.375, 'dice')
    close(tumour.iou.value, 5 / 21, 'iou')
    close(ag.regions.perItem.find((e: any) => e.intersection === 4).iou.value, 1 / 7, 'i2 iou')
    const csvRes = await as('rev', `/api/tasks/${task.id}/agreement?format=csv`)
    assert.equal(csvRes.status, 200)
    assert.match(csvRes.headers.get('content-type') ?? '', /^text\/csv/)
    const csv = await csvRes.text()
    assert.ok(csv.includes('regions,KURA-HE-TISSUE:tumour,ann1,ann2,dice,0.375,2,'), csv)

    // Adjudication: item 1 accept ann1's outline, reject ann2's, accept both labels as one; item 2 edit ann2's.
    const d1 = await json(await as('rev', `/api/tasks/${task.id}/items/${items[0].id}/adjudicate`, {
      decisions: [
        { source: a1.id, decision: 'accepted' },
        { source: b1.id, decision: 'rejected', note: 'includes background' },
        { sources: [l1.id, l2.id], decision: 'accepted' },
      ],
    }))
    assert.deepEqual(d1.decisions.map((d: any) => d.decision), ['accepted', 'rejected', 'accepted', 'accepted'])
    const editedGeometry = rect(1, 1, 5, 5)
    await json(await as('rev', `/api/tasks/${task.id}/items/${items[1].id}/adjudicate`, { decisions: [{ source: b2.id, decision: 'edited', geometry: editedGeometry }] }))
    assert.equal((await json(await as('rev', `/api/annotations/${b1.id}`))).status, 'rejected')

    const gt = await json(await as('rev', `/api/tasks/${task.id}/ground-truth`))
    assert.equal(gt.annotations.length, 2)
    for (const g of gt.annotations) {
      assert.equal(g.status, 'accepted')
      assert.equal(g.author, ids.rev)
      assert.equal(g.properties.provenance.reviewer, ids.rev)
    }
    const fromA1 = gt.annotations.find((g: any) => g.properties.provenance.sources[0].id === a1.id)
    assert.deepEqual(fromA1.properties.provenance.sources, [{ id: a1.id, kind: 'annotation', author: ids.ann1 }])
    assert.equal(fromA1.properties.provenance.decision, 'accepted')
    const fromB2 = gt.annotations.find((g: any) => g.properties.provenance.sources[0].id === b2.id)
    assert.equal(fromB2.properties.provenance.decision, 'edited')
    assert.deepEqual(fromB2.geometry, editedGeometry)
    assert.equal(gt.imageLabels.length, 1)
    assert.deepEqual(gt.imageLabels[0].provenance.sources.map((s: any) => s.author).sort(), [ids.ann1, ids.ann2].sort())
    assert.equal(gt.imageLabels[0].label.code, '1')
    assert.equal((await json(await as('rev', `/api/tasks/${task.id}`))).progress.itemsAdjudicated, 2)

    // Agreement is the readers' and stays as it was.
    close((await json(await as('rev', `/api/tasks/${task.id}/agreement`))).regions.pairs.find((p: any) => p.label === 'KURA-HE-TISSUE:tumour').dice.value, 0.375, 'dice after')

    // Closing stops submits.
    await json(await as('rev', `/api/tasks/${task.id}`, { status: 'closed' }, 'PATCH'))
    assert.equal((await as('ann1', `/api/tasks/${task.id}/items/${items[0].id}/submit`, {})).status, 409)
  })

  it('refuses bad task definitions with the field named', async () => {
    const r = await as('rev', '/api/tasks', newTask({ annotatorsPerItem: 5 }))
    assert.equal(r.status, 400)
    assert.match(((await r.json()) as any).message, /annotatorsPerItem/)
    assert.equal((await as('rev', '/api/tasks', newTask({ annotators: [ids.res], annotatorsPerItem: 1 }))).status, 422)
    assert.equal((await as('revb', '/api/tasks', newTask())).status, 403)
    assert.equal((await as('ann1', '/api/tasks', newTask())).status, 403)
  })
})
