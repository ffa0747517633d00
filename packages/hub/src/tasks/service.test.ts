/**
 * The task service on both catalog engines: creation with round-robin assignment, visibility, progress, submit,
 * review, adjudication with provenance, re-adjudication, and the agreement numbers of a small worked case.
 */
import { after, before, it } from 'node:test'
import assert from 'node:assert/strict'
import { newId } from '@kura/core'
import { describeEachEngine, openTestCatalog, type TestCatalog } from '@kura/storage/testing'
import { Access, scopesOfUser } from '../auth/access.ts'
import { addGrant, createCollection, userGrants } from '../auth/grants.ts'
import { createUser } from '../auth/users.ts'
import { createImageLabel } from '../annotations/image-labels.ts'
import type { Geometry } from '../annotations/model.ts'
import { createAnnotation, getAnnotation } from '../annotations/repository.ts'
import { loadVocabulary, setCollectionVocabularies } from '../annotations/vocabularies.ts'
import { adjudicate, groundTruth, reviewItem } from './adjudication.ts'
import { agreementAsCsv, agreementOf } from './agreement-report.ts'
import { parseDecisions, parseNewTask } from './input.ts'
import { checkTaskWork, createTask, listTasks, myItems, roundRobin, submitItem, taskProgress, visibleTask, type TaskCaller } from './service.ts'

const rect = (x0: number, y0: number, x1: number, y1: number): Geometry => ({ type: 'Polygon', coordinates: [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]] })
const close = (actual: number | null | undefined, expected: number, what: string) => assert.ok(actual != null && Math.abs(actual - expected) < 1e-9, `${what}: ${actual} ≠ ${expected}`)

it('round-robin gives each item k distinct readers and spreads the load', () => {
  // 5 items, readers a b c, 2 per item: (a,b) (c,a) (b,c) (a,b) (c,a) → a 4, b 3, c 3.
  const r = roundRobin(5, ['a', 'b', 'c'], 2)
  assert.deepEqual(r, [['a', 'b'], ['c', 'a'], ['b', 'c'], ['a', 'b'], ['c', 'a']])
  for (const pair of r) assert.equal(new Set(pair).size, 2)
})

describeEachEngine('annotation tasks', (engine) => {
  let tc: TestCatalog
  const users: Record<string, { id: string; caller: TaskCaller }> = {}
  const slides: string[] = []
  let collectionId = ''
  const db = () => tc.catalog.db

  async function caller(userId: string): Promise<TaskCaller> {
    const scopes = scopesOfUser(false, await userGrants(db(), userId))
    return { userId, access: new Access({ kind: 'token', userId, username: userId, isAdmin: false, tokenId: null, csrfToken: null, mustChangePassword: false, scopes }) }
  }

  before(async () => {
    tc = await openTestCatalog(engine)
    collectionId = (await createCollection(db(), 'path-a')).id
    await createCollection(db(), 'path-b')
    for (const [name, role, coll] of [['ann1', 'annotator', 'path-a'], ['ann2', 'annotator', 'path-a'], ['ann3', 'annotator', 'path-a'], ['rev', 'reviewer', 'path-a'], ['cur', 'curator', 'path-a'], ['res', 'researcher', 'path-a'], ['revb', 'reviewer', 'path-b']] as const) {
      const { user } = await createUser(db(), { username: name })
      await addGrant(db(), { userId: user.id, role, collection: coll })
      users[name] = { id: user.id, caller: await caller(user.id) }
    }
    for (let i = 0; i < 3; i++) {
      const id = newId()
      await db()
        .insertInto('slide')
        .values({ id, collection_id: collectionId, sha256: `${i}`.repeat(64), object_key: `slides/${i}`, size: 1, format: 'generic-tiff', width: 1000, height: 1000, levels: '[]', mpp_x: null, mpp_y: null, objective_power: null, properties: '{}', associated: '[]', created_at: new Date().toISOString() })
        .execute()
      slides.push(id)
    }
    const tissue = await loadVocabulary(db(), { system: 'TEST-TISSUE', version: '1', name: 'Tissue', licence: 'CC0', codes: [{ code: 'tumour', meaningEn: 'Tumour' }, { code: 'stroma', meaningEn: 'Stroma' }] }, 'imported')
    const group = await loadVocabulary(db(), { system: 'TEST-GROUP', version: '1', name: 'Group', licence: 'CC0', codes: [{ code: 'G1', meaningEn: 'Group 1' }, { code: 'G5', meaningEn: 'Group 5' }] }, 'imported')
    await setCollectionVocabularies(db(), collectionId, [{ vocabularyId: tissue.vocabulary.id, level: null }, { vocabularyId: group.vocabulary.id, level: null }])
  })
  after(async () => tc?.cleanup())

  const body = (over: Record<string, unknown> = {}) => ({
    collection: 'path-a',
    name: 'Gastric biopsies',
    kind: 'both',
    annotators: [users.ann1!.id, users.ann2!.id],
    annotatorsPerItem: 2,
    reviewer: users.rev!.id,
    items: slides.map((slideId) => ({ slideId })),
    ...over,
  })

  it('refuses members without the permission, images of another collection, and callers who do not review', async () => {
    await assert.rejects(createTask(db(), users.cur!.caller, parseNewTask(body({ annotators: [users.res!.id] , annotatorsPerItem: 1 }))), { code: 'TASK_MEMBER_NOT_PERMITTED' })
    await assert.rejects(createTask(db(), users.cur!.caller, parseNewTask(body({ reviewer: users.revb!.id }))), { code: 'TASK_MEMBER_NOT_PERMITTED' })
    await assert.rejects(createTask(db(), users.cur!.caller, parseNewTask(body({ items: [{ slideId: newId() }] }))), { code: 'TASK_ITEM_NOT_IN_COLLECTION' })
    await assert.rejects(createTask(db(), users.revb!.caller, parseNewTask(body())), { code: 'FORBIDDEN' })
    assert.throws(() => parseNewTask(body({ annotatorsPerItem: 3 })), { code: 'TASK_BAD_REQUEST' })
    assert.throws(() => parseNewTask(body({ reviewer: users.ann1!.id })), { code: 'TASK_BAD_REQUEST' })
  })

  it('runs a task from creation to ground truth and agreement', async () => {
    const task = await createTask(db(), users.cur!.caller, parseNewTask(body()))
    assert.equal(task.items, 3)
    // A third reader's task in the same collection, with one reader per item.
    const other = await createTask(db(), users.cur!.caller, parseNewTask(body({ name: 'Other', annotators: [users.ann3!.id], annotatorsPerItem: 1 })))

    // Visibility: readers see their own tasks only; reviewers of the collection see all; others nothing.
    assert.deepEqual((await listTasks(db(), users.ann1!.caller)).map((t) => t.id), [task.id])
    assert.deepEqual((await listTasks(db(), users.ann3!.caller)).map((t) => t.id), [other.id])
    assert.deepEqual(new Set((await listTasks(db(), users.rev!.caller)).map((t) => t.id)), new Set([task.id, other.id]))
    assert.deepEqual(await listTasks(db(), users.revb!.caller), [])
    assert.deepEqual(await listTasks(db(), users.res!.caller), [])
    await assert.rejects(visibleTask(db(), users.ann3!.caller, task.id), { code: 'TASK_NOT_FOUND' })
    await assert.rejects(visibleTask(db(), users.revb!.caller, task.id), { code: 'TASK_NOT_FOUND' })

    const ctx1 = await visibleTask(db(), users.ann1!.caller, task.id)
    const items = await myItems(db(), users.ann1!.caller, ctx1)
    assert.equal(items.length, 3)
    assert.deepEqual(items.map((i) => i.state), ['todo', 'todo', 'todo'])

    // The annotation API's hook: only assigned readers of open tasks.
    const target = (i: number) => ({ kind: 'slide' as const, slideId: slides[i]! })
    await checkTaskWork(db(), { taskId: task.id, userId: users.ann1!.id, target: target(0) })
    await assert.rejects(checkTaskWork(db(), { taskId: task.id, userId: users.ann3!.id, target: target(0) }), { code: 'TASK_NOT_FOUND' })
    await assert.rejects(checkTaskWork(db(), { taskId: task.id, userId: users.ann1!.id, target: { kind: 'slide', slideId: newId() } }), { code: 'TASK_NOT_ASSIGNED' })
    assert.equal((await myItems(db(), users.ann1!.caller, ctx1))[0]!.state, 'in_progress')

    // Readings (the worked case of agreement/task-agreement.test.ts, on slides 0–2):
    const draw = (who: string, i: number, code: string, geometry: Geometry) =>
      createAnnotation(db(), collectionId, { target: target(i), shape: geometry.type === 'Point' ? 'point' : 'polygon', geometry, label: { system: 'TEST-TISSUE', code }, author: users[who]!.id, taskId: task.id })
    const label = (who: string, i: number, code: string) => createImageLabel(db(), collectionId, { target: target(i), label: { system: 'TEST-GROUP', code }, author: users[who]!.id, taskId: task.id })
    const a1 = await draw('ann1', 0, 'tumour', rect(0, 0, 10, 10))
    const b1 = await draw('ann2', 0, 'tumour', rect(5, 0, 15, 10))
    await draw('ann1', 1, 'tumour', rect(0, 0, 5, 10))
    await draw('ann1', 1, 'tumour', rect(5, 0, 10, 10))
    await draw('ann2', 1, 'tumour', rect(0, 0, 10, 10))
    const s1 = await draw('ann1', 1, 'stroma', rect(20, 20, 30, 30))
    const l1 = await label('ann1', 0, 'G1')
    const l2 = await label('ann2', 0, 'G1')
    await label('ann1', 1, 'G1')
    await label('ann2', 1, 'G5')
    await label('ann1', 2, 'G5')
    await label('ann2', 2, 'G5')

    // Drafts cannot be adjudicated; submit makes them submitted.
    const rctx = await visibleTask(db(), users.rev!.caller, task.id)
    assert.equal(rctx.reviewer, true)
    await assert.rejects(adjudicate(db(), users.rev!.caller, rctx, items[0]!.id, parseDecisions({ decisions: [{ sources: [a1.id], decision: 'accepted' }] })), { code: 'TASK_SOURCE_NOT_SUBMITTED' })
    await assert.rejects(submitItem(db(), users.ann3!.caller, await visibleTask(db(), users.rev!.caller, task.id), items[0]!.id), { code: 'TASK_NOT_ASSIGNED' })
    const sub = await submitItem(db(), users.ann1!.caller, ctx1, items[0]!.id)
    assert.deepEqual(sub.submitted, { annotations: 1, imageLabels: 1 })
    assert.equal((await getAnnotation(db(), a1.id))!.status, 'submitted')
    await assert.rejects(checkTaskWork(db(), { taskId: task.id, userId: users.ann1!.id, target: target(0) }), { code: 'TASK_ITEM_SUBMITTED' })
    for (const who of ['ann1', 'ann2']) {
      const ctx = await visibleTask(db(), users[who]!.caller, task.id)
      for (const it of items) await submitItem(db(), users[who]!.caller, ctx, it.id)
    }

    // Progress: a reader sees only their part; the reviewer sees everyone's.
    const mine = await taskProgress(db(), users.ann1!.caller, ctx1)
    assert.deepEqual(mine.annotators.map((a) => a.username), ['ann1'])
    assert.equal(mine.annotators[0]!.submitted, 3)
    assert.equal(mine.annotators[0]!.annotations, 4)
    const all = await taskProgress(db(), users.rev!.caller, rctx)
    assert.deepEqual(all.progress, { items: 3, assignments: 6, todo: 0, inProgress: 0, submitted: 6, itemsFullySubmitted: 3, itemsAdjudicated: 0 })
    assert.equal(all.annotators.find((a) => a.username === 'ann2')!.annotations, 2)

    // Review: both readers side by side.
    const rv = await reviewItem(db(), rctx, items[0]!.id)
    assert.deepEqual(rv.readers.map((r) => [r.username, r.annotations.length, r.imageLabels.length]), [['ann1', 1, 1], ['ann2', 1, 1]])

    // Agreement before adjudication (hand-computed in agreement/task-agreement.test.ts): Cohen 0.4, Fleiss 1/3,
    // tumour Dice (0.5 + 1)/2 = 0.75, all labels (0.5 + 1 + 0 + 1)/4 = 0.625.
    const ag = await agreementOf(db(), rctx)
    close(ag.imageLabels.pairs[0]!.kappa.value, 0.4, 'cohen')
    close(ag.imageLabels.overall.kappa.value, 1 / 3, 'fleiss')
    close(ag.regions.pairs.find((p) => p.label === 'TEST-TISSUE:tumour')!.dice.value, 0.75, 'tumour dice')
    close(ag.regions.pairs.find((p) => p.label === null)!.dice.value, 0.625, 'all-label dice')
    assert.deepEqual(ag.users.map((u) => u.username).sort(), ['ann1', 'ann2'])
    assert.match(agreementAsCsv(ag), /image-labels,,ann1,ann2,cohen_kappa,0\.(4|39999)/)

    // Adjudication: accept both tumour outlines as one, edit the image label, reject the stroma.
    const edited = rect(0, 0, 12, 10)
    const out = await adjudicate(db(), users.rev!.caller, rctx, items[0]!.id, parseDecisions({
      decisions: [
        { sources: [a1.id, b1.id], decision: 'edited', geometry: edited, note: 'merged' },
        { sources: [l1.id, l2.id], decision: 'accepted' },
      ],
    }))
    assert.equal(out.decisions.length, 4)
    await adjudicate(db(), users.rev!.caller, rctx, items[1]!.id, parseDecisions({ decisions: [{ source: s1.id, decision: 'rejected', note: 'not stroma' }] }))
    assert.equal((await getAnnotation(db(), s1.id))!.status, 'rejected')
    assert.equal((await getAnnotation(db(), a1.id))!.status, 'accepted')

    const gt = await groundTruth(db(), rctx)
    assert.equal(gt.annotations.length, 1)
    const g = gt.annotations[0]!
    assert.equal(g.status, 'accepted')
    assert.equal(g.author, users.rev!.id)
    assert.deepEqual(g.geometry, edited)
    const prov = g.properties!.provenance as any
    assert.equal(prov.decision, 'edited')
    assert.equal(prov.reviewer, users.rev!.id)
    assert.deepEqual(prov.sources.map((s: any) => s.id).sort(), [a1.id, b1.id].sort())
    assert.deepEqual(prov.sources.map((s: any) => s.author).sort(), [users.ann1!.id, users.ann2!.id].sort())
    assert.equal(gt.imageLabels.length, 1)
    assert.equal(gt.imageLabels[0]!.label.code, 'G1')
    assert.deepEqual(gt.imageLabels[0]!.provenance.sources.map((s) => s.id).sort(), [l1.id, l2.id].sort())

    // Ground truth never counts as a reading: agreement is unchanged.
    const ag2 = await agreementOf(db(), rctx)
    close(ag2.regions.pairs.find((p) => p.label === 'TEST-TISSUE:tumour')!.dice.value, 0.75, 'tumour dice after adjudication')
    const rv2 = await reviewItem(db(), rctx, items[0]!.id)
    assert.equal(rv2.groundTruth.annotations.length, 1)
    assert.deepEqual(rv2.readers.map((r) => r.annotations.length), [1, 1])

    // Deciding again replaces: rejecting a1 alone drops it from the merged result, b1 still points to it.
    await adjudicate(db(), users.rev!.caller, rctx, items[0]!.id, parseDecisions({ decisions: [{ source: a1.id, decision: 'rejected' }] }))
    assert.equal((await groundTruth(db(), rctx)).annotations.length, 1)
    // …and rejecting b1 too leaves nothing pointing at the copy, so it goes.
    await adjudicate(db(), users.rev!.caller, rctx, items[0]!.id, parseDecisions({ decisions: [{ source: b1.id, decision: 'rejected' }] }))
    assert.equal((await groundTruth(db(), rctx)).annotations.length, 0)
    assert.equal((await taskProgress(db(), users.rev!.caller, rctx)).progress.itemsAdjudicated, 2)

    // An image-level label edited to another code; labels and annotations never share a decision.
    const [g1, g5] = await Promise.all([
      db().selectFrom('image_label').select('id').where('task_id', '=', task.id).where('author', '=', users.ann1!.id).where('slide_id', '=', slides[1]!).executeTakeFirstOrThrow(),
      db().selectFrom('image_label').select('id').where('task_id', '=', task.id).where('author', '=', users.ann2!.id).where('slide_id', '=', slides[1]!).executeTakeFirstOrThrow(),
    ])
    await adjudicate(db(), users.rev!.caller, rctx, items[1]!.id, parseDecisions({ decisions: [{ source: g1.id, decision: 'edited', label: { system: 'TEST-GROUP', code: 'G5' } }, { source: g5.id, decision: 'accepted' }] }))
    const labels = (await groundTruth(db(), rctx)).imageLabels.filter((l) => l.target.kind === 'slide' && l.target.slideId === slides[1])
    assert.deepEqual(labels.map((l) => [l.label.code, l.provenance.decision]).sort(), [['G5', 'accepted'], ['G5', 'edited']])
    await assert.rejects(adjudicate(db(), users.rev!.caller, rctx, items[1]!.id, parseDecisions({ decisions: [{ sources: [g1.id, s1.id], decision: 'rejected' }] })), { code: 'TASK_BAD_REQUEST' })

    // A ground-truth copy is not a source.
    const gtLabel = (await groundTruth(db(), rctx)).imageLabels[0]!
    await assert.rejects(adjudicate(db(), users.rev!.caller, rctx, items[0]!.id, parseDecisions({ decisions: [{ source: gtLabel.id, decision: 'accepted' }] })), { code: 'TASK_SOURCE_NOT_FOUND' })
  })
})
