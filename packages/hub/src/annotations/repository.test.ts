/**
 * The annotation repository on both catalog engines: create/update/delete with revisions, the viewport query
 * against a brute-force filter over random shapes (several slides, sizes and zoom levels), filters,
 * simplification, status transitions and image-level labels.
 */
import { after, before, it } from 'node:test'
import assert from 'node:assert/strict'
import { newId } from '@kura/core'
import { sql } from 'kysely'
import { describeEachEngine, openTestCatalog, type TestCatalog } from '@kura/storage/testing'
import { createImageLabel, deleteImageLabel, getImageLabel, listImageLabels, updateImageLabel } from './image-labels.ts'
import type { AnnotationStatus, Geometry, Position, ShapeKind } from './model.ts'
import {
  annotationHistory,
  annotationSetVersion,
  createAnnotation,
  createAnnotations,
  DENSITY_CELLS,
  densityQuery,
  deleteAnnotation,
  getAnnotation,
  listAnnotations,
  queryViewport,
  queryViewportJson,
  targetCollections,
  updateAnnotation,
  viewportQuery,
  type AnnotationInput,
} from './repository.ts'
import { loadShippedVocabularies } from './vocabulary-file.ts'
import { simplifyGeometry } from './geometry.ts'

const code = (c: string) => (e: any) => e?.code === c

/** Deterministic random numbers, so a failure can be replayed. */
function rng(seed: number) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), a | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function randomShape(r: () => number): { shape: ShapeKind; geometry: Geometry } {
  const x = r() * 20_000, y = r() * 20_000
  // Sizes from sub-pixel to thousands of pixels, so every level-of-detail tier is exercised.
  const size = Math.pow(10, r() * 3.6 - 0.5)
  const kind = r()
  if (kind < 0.1) return { shape: 'point', geometry: { type: 'Point', coordinates: [x, y] } }
  if (kind < 0.2) return { shape: 'polyline', geometry: { type: 'LineString', coordinates: [[x, y], [x + size, y + size * r()], [x + size * r(), y + size]] } }
  if (kind < 0.3) return { shape: 'rectangle', geometry: { type: 'Polygon', coordinates: [[[x, y], [x + size, y], [x + size, y + size / 2], [x, y + size / 2], [x, y]]] } }
  const n = 8 + Math.floor(r() * 17)
  const ring: Position[] = Array.from({ length: n }, (_, i) => {
    const a = (2 * Math.PI * i) / n, rr = size * (0.5 + r() * 0.5)
    return [x + rr * Math.cos(a), y + rr * Math.sin(a)]
  })
  return { shape: 'polygon', geometry: { type: 'Polygon', coordinates: [[...ring, ring[0]!]] } }
}

function bounds(g: Geometry): [number, number, number, number] {
  const ps: Position[] = g.type === 'Point' ? [g.coordinates] : g.type === 'LineString' || g.type === 'MultiPoint' ? g.coordinates : g.type === 'Polygon' ? g.coordinates.flat() : g.coordinates.flat(2)
  return [Math.min(...ps.map((p) => p[0])), Math.min(...ps.map((p) => p[1])), Math.max(...ps.map((p) => p[0])), Math.max(...ps.map((p) => p[1]))]
}

describeEachEngine('annotation repository', (engine) => {
  let t: TestCatalog
  let collectionId: string
  let otherCollectionId: string
  const slides: string[] = []
  const square = (x = 0, y = 0, s = 10): Geometry => ({ type: 'Polygon', coordinates: [[[x, y], [x + s, y], [x + s, y + s], [x, y + s], [x, y]]] })

  before(async () => {
    t = await openTestCatalog(engine)
    const db = t.catalog.db
    await loadShippedVocabularies(db)
    const now = new Date().toISOString()
    collectionId = newId()
    otherCollectionId = newId()
    await db.insertInto('collection').values([{ id: collectionId, name: 'path', created_at: now }, { id: otherCollectionId, name: 'other', created_at: now }]).execute()
    for (let i = 0; i < 3; i++) {
      const id = newId()
      slides.push(id)
      await db
        .insertInto('slide')
        .values({ id, collection_id: i === 2 ? otherCollectionId : collectionId, sha256: `s${i}`, object_key: `slides/s${i}`, size: 1, format: 'test', width: 20_000, height: 20_000, levels: '[]', mpp_x: null, mpp_y: null, objective_power: null, properties: '{}', associated: '[]', created_at: now })
        .execute()
    }
  })
  after(async () => t?.cleanup())

  it('creates, reads, updates and deletes, keeping every revision and the set version', async () => {
    const db = t.catalog.db
    const v0 = await annotationSetVersion(db, collectionId)
    const a = await createAnnotation(db, collectionId, {
      target: { kind: 'slide', slideId: slides[0]! },
      shape: 'ellipse',
      geometry: square(100, 100, 50),
      ellipse: { cx: 125, cy: 125, rx: 25, ry: 25, rotation: 0 },
      label: { system: 'KURA-HE-TISSUE', code: 'tumour' },
      author: 'u1',
      properties: { qupath: { name: 'A1', color: [255, 0, 0] } },
    })
    assert.equal(a.status, 'draft')
    assert.deepEqual(a.label, { system: 'KURA-HE-TISSUE', code: 'tumour', version: '2026.1' })
    const got = (await getAnnotation(db, a.id))!
    assert.deepEqual(got, a, 'what was stored reads back the same')
    const inView = await queryViewport(db, { kind: 'slide', slideId: slides[0]! }, { x: 120, y: 120, w: 1, h: 1 })
    assert.deepEqual(inView.annotations, [a], 'and so does a viewport query, every field')
    assert.ok(got.seq > v0)
    assert.equal(await annotationSetVersion(db, collectionId), got.seq)

    const moved = await updateAnnotation(db, a.id, { geometry: square(200, 200, 20), status: 'submitted', label: { system: 'KURA-HE-TISSUE', code: 'stroma' } }, 'u1')
    assert.equal(moved.status, 'submitted')
    assert.equal(moved.label.code, 'stroma')
    assert.equal(moved.author, 'u1')
    assert.ok(moved.seq > got.seq)
    assert.deepEqual((await getAnnotation(db, a.id))!.geometry, square(200, 200, 20))
    // The spatial index followed the move.
    const at = (x: number, y: number) => queryViewport(db, { kind: 'slide', slideId: slides[0]! }, { x, y, w: 1, h: 1 })
    assert.equal((await at(110, 110)).count, 0)
    assert.equal((await at(210, 210)).count, 1)
    // Not a shape kind change without the geometry to match: a point needs a Point.
    await assert.rejects(updateAnnotation(db, a.id, { shape: 'point' }, 'u1'), code('ANNOTATION_BAD_GEOMETRY'))
    await assert.rejects(updateAnnotation(db, a.id, { status: 'bogus' as AnnotationStatus }, 'u1'), code('ANNOTATION_BAD_REQUEST'))
    await assert.rejects(updateAnnotation(db, a.id, { label: { system: 'KURA-HE-TISSUE', code: 'nope' } }, 'u1'), code('VOCABULARY_UNKNOWN_CODE'))
    const shapeChanged = await updateAnnotation(db, a.id, { shape: 'polygon', geometry: square(200, 200, 20) }, 'reviewer')
    assert.equal(shapeChanged.ellipse, undefined, 'a polygon keeps no ellipse parameters')

    assert.equal(await deleteAnnotation(db, a.id, 'reviewer'), true)
    assert.equal(await deleteAnnotation(db, a.id, 'reviewer'), false)
    assert.equal(await getAnnotation(db, a.id), undefined)
    assert.equal((await at(210, 210)).count, 0, 'the spatial index forgot it')
    const history = await annotationHistory(db, a.id)
    assert.deepEqual(history.map((h) => [h.op, h.author]), [['create', 'u1'], ['update', 'u1'], ['update', 'reviewer'], ['delete', 'reviewer']])
    assert.equal(history[0]!.snapshot.label.code, 'tumour')
    assert.equal(history[3]!.snapshot.label.code, 'stroma')
    assert.ok(history.every((h, i) => i === 0 || h.seq > history[i - 1]!.seq))
    assert.equal(await annotationSetVersion(db, collectionId), history[3]!.seq)
  })

  it('follows the status transitions', async () => {
    const db = t.catalog.db
    const a = await createAnnotation(db, collectionId, { target: { kind: 'slide', slideId: slides[0]! }, shape: 'point', geometry: { type: 'Point', coordinates: [5, 5] }, label: { system: 'KURA-HE-TISSUE', code: 'necrosis' }, author: 'u1' })
    await updateAnnotation(db, a.id, { status: 'accepted' }, 'rev')
    await assert.rejects(updateAnnotation(db, a.id, { status: 'draft' }, 'rev'), code('ANNOTATION_BAD_STATUS'))
    assert.equal((await updateAnnotation(db, a.id, { status: 'rejected' }, 'rev')).status, 'rejected')
    await deleteAnnotation(db, a.id, 'rev')
  })

  it('rolls back a bulk create as a whole when one item is invalid', async () => {
    const db = t.catalog.db
    const before = (await listAnnotations(db, { collectionId })).length
    const ok: AnnotationInput = { target: { kind: 'slide', slideId: slides[0]! }, shape: 'polygon', geometry: square(), label: { system: 'KURA-HE-TISSUE', code: 'tumour' }, author: 'u1' }
    await assert.rejects(createAnnotations(db, collectionId, [ok, ok, { ...ok, label: { system: 'KURA-HE-TISSUE', code: 'martian' } }]), code('VOCABULARY_UNKNOWN_CODE'))
    await assert.rejects(createAnnotations(db, collectionId, [ok, { ...ok, confidence: 7 }]), code('ANNOTATION_BAD_REQUEST'))
    assert.equal((await listAnnotations(db, { collectionId })).length, before)
  })

  it('answers viewport queries exactly like a brute-force filter over random shapes', async () => {
    const db = t.catalog.db
    const r = rng(engine === 'sqlite' ? 11 : 12)
    const labels = ['tumour', 'stroma', 'lymphocytes']
    const authors = ['u1', 'u2', 'ai:model']
    const statuses: AnnotationStatus[] = ['draft', 'submitted']
    const made: { id: string; slide: number; b: [number, number, number, number]; point: boolean; label: string; author: string; status: AnnotationStatus; g: Geometry }[] = []
    for (const s of [0, 1, 2]) {
      const inputs: AnnotationInput[] = []
      for (let i = 0; i < 700; i++) {
        const { shape, geometry } = randomShape(r)
        inputs.push({ target: { kind: 'slide', slideId: slides[s]! }, shape, geometry, label: { system: 'KURA-HE-TISSUE', code: labels[i % 3]! }, author: authors[(i >> 1) % 3]!, status: statuses[i % 2] })
      }
      const out = await createAnnotations(db, s === 2 ? otherCollectionId : collectionId, inputs)
      out.forEach((a, i) => made.push({ id: a.id, slide: s, b: bounds(inputs[i]!.geometry), point: inputs[i]!.shape === 'point', label: a.label.code, author: a.author, status: a.status, g: a.geometry }))
    }
    let nonEmpty = 0
    for (let q = 0; q < 60; q++) {
      const slide = q % 3
      const scale = [1, 0.5, 3, 20, 70, 300, 2000][q % 7]!
      const w = r() * 4000 * Math.max(1, scale / 4), h = r() * 3000 * Math.max(1, scale / 4)
      const x = r() * 22_000 - 2000, y = r() * 22_000 - 2000
      const filter = q % 5 === 1 ? { labels: ['tumour', 'stroma'] } : q % 5 === 2 ? { authors: ['u2'], statuses: ['submitted' as AnnotationStatus] } : {}
      const res = await queryViewport(db, { kind: 'slide', slideId: slides[slide]! }, { x, y, w, h, scale }, filter, 50_000)
      const minExtent = scale > 1 ? scale : 0
      const want = made
        .filter((m) => m.slide === slide && m.b[0] <= x + w && m.b[2] >= x && m.b[1] <= y + h && m.b[3] >= y)
        .filter((m) => m.point || Math.max(m.b[2] - m.b[0], m.b[3] - m.b[1]) >= minExtent)
        .filter((m) => !filter.labels || filter.labels.includes(m.label))
        .filter((m) => !filter.authors || (filter.authors.includes(m.author) && filter.statuses!.includes(m.status)))
        .map((m) => m.id)
        .sort()
      assert.deepEqual(res.annotations.map((a) => a.id).sort(), want, `query ${q}: viewport ${[x, y, w, h].map(Math.round)} scale ${scale}`)
      assert.equal(res.truncated, false)
      assert.equal(res.minExtent, minExtent)
      // Geometry comes from the tier stored at write time: the largest of 2, 8, 32, 128 that is ≤ scale.
      assert.equal(res.tolerance, scale < 2 ? 0 : [128, 32, 8, 2].find((t) => t <= scale))
      const byId = new Map(made.map((m) => [m.id, m.g]))
      let simplified = false
      for (const a of res.annotations) {
        const s = res.tolerance ? simplifyGeometry(byId.get(a.id)!, res.tolerance) : { geometry: byId.get(a.id)!, changed: false }
        simplified ||= s.changed
        assert.deepEqual(a.geometry, s.geometry, `query ${q}: geometry of ${a.id} at tolerance ${res.tolerance}`)
      }
      assert.equal(res.simplified, simplified, `query ${q}: simplified`)
      // The route's JSON text is the same answer, key for key.
      if (q % 4 === 0) {
        const { annotationsJson, ...meta } = await queryViewportJson(db, { kind: 'slide', slideId: slides[slide]! }, { x, y, w, h, scale }, filter, 50_000)
        // (Order is unspecified: PostgreSQL writes this text itself.)
        const byKey = (xs: { id: string }[]) => [...xs].sort((m, n) => (m.id < n.id ? -1 : 1))
        assert.deepEqual(byKey(JSON.parse(annotationsJson)), byKey(JSON.parse(JSON.stringify(res.annotations))), `query ${q}: JSON text`)
        const { annotations: _a, ...resMeta } = res
        assert.deepEqual(meta, resMeta)
      }
      if (want.length) nonEmpty++
    }
    assert.ok(nonEmpty >= 30, `most queries should hit something (${nonEmpty})`)

    // The cap: truncated, and exactly `limit` rows.
    const all = await queryViewport(db, { kind: 'slide', slideId: slides[0]! }, { x: -1e6, y: -1e6, w: 3e6, h: 3e6 }, {}, 100)
    assert.equal(all.count, 100)
    assert.equal(all.truncated, true)
    const allJson = await queryViewportJson(db, { kind: 'slide', slideId: slides[0]! }, { x: -1e6, y: -1e6, w: 3e6, h: 3e6 }, {}, 100)
    assert.deepEqual([allJson.count, allJson.truncated, JSON.parse(allJson.annotationsJson).length], [100, true, 100])
    await assert.rejects(queryViewport(db, { kind: 'slide', slideId: slides[0]! }, { x: NaN, y: 0, w: 1, h: 1 }), code('ANNOTATION_BAD_REQUEST'))
  })

  it('drives viewport queries from the spatial index (EXPLAIN), zoomed in and zoomed out', async () => {
    const db = t.catalog.db
    const target = { kind: 'slide' as const, slideId: slides[0]! }
    const plan = async (scale: number, filter = {}) => {
      const { query } = viewportQuery(db, target, { x: 0, y: 0, w: 1000, h: 1000, scale }, filter)
      const c = query.compile()
      return db.connection().execute(async (conn) => {
        // A test table is small enough that PostgreSQL would rather scan it; forbid that to see the index it would use.
        if (engine === 'postgres') await sql`set enable_seqscan = off`.execute(conn)
        try {
          const explain = engine === 'postgres' ? `explain ${c.sql}` : `explain query plan ${c.sql}`
          const r = await conn.executeQuery<Record<string, string>>({ ...c, sql: explain, query: c.query } as never)
          return r.rows.map((row) => row['QUERY PLAN'] ?? row.detail).join('\n')
        } finally {
          if (engine === 'postgres') await sql`reset enable_seqscan`.execute(conn)
        }
      })
    }
    if (engine === 'sqlite') {
      for (const p of [await plan(1), await plan(20), await plan(1, { labels: ['tumour'] })]) assert.match(p, /SCAN r VIRTUAL TABLE INDEX 2:B0D1B2D3/, p)
      assert.match(await plan(20), /D5/, 'zoomed out, the size dimension of the R*Tree is constrained too')
    } else {
      assert.match(await plan(1), /annotation_box_idx/)
      assert.match(await plan(20), /annotation_box_lod16_idx/)
      assert.match(await plan(100), /annotation_box_lod64_idx/)
      assert.match(await plan(5000), /annotation_box_lod1024_idx/)
    }
  })

  it('answers a zoomed-out viewport over more shapes than its limit with density counts, says so, and keeps them in step', async () => {
    const db = t.catalog.db
    const now = new Date().toISOString()
    const slideId = newId()
    await db.insertInto('slide').values({ id: slideId, collection_id: collectionId, sha256: 'dense', object_key: 'slides/dense', size: 1, format: 'test', width: 40_000, height: 40_000, levels: '[]', mpp_x: null, mpp_y: null, objective_power: null, properties: '{}', associated: '[]', created_at: now }).execute()
    const target = { kind: 'slide' as const, slideId }
    const r = rng(21)
    const inputs: AnnotationInput[] = []
    // 600 cells (10–20 px) in a cluster, some inside tasks (blind reading hides the unaccepted ones), and one large region.
    for (let i = 0; i < 600; i++) {
      const x = 10_000 + r() * 6000, y = 10_000 + r() * 4000, s = 10 + r() * 10
      const taskId = i % 10 === 0 ? 'task-d' : null
      inputs.push({ target, shape: 'polygon', geometry: square(x, y, s), label: { system: 'KURA-HE-TISSUE', code: ['tumour', 'stroma', 'lymphocytes'][i % 3]! }, author: i % 20 === 0 ? 'reader-a' : 'reader-b', status: taskId && i % 30 === 0 ? 'accepted' : 'submitted', taskId })
    }
    inputs.push({ target, shape: 'polygon', geometry: square(11_000, 11_000, 3000), label: { system: 'KURA-HE-TISSUE', code: 'tumour' }, author: 'reader-b' })
    const made = await createAnnotations(db, collectionId, inputs)
    const view = { x: 9000, y: 9000, w: 1600 * 16, h: 1000 * 16, scale: 16 }

    // What the counts must be, by brute force over what was stored: per cell of `cell` px holding the centre of the bounds.
    const expected = async (cell: number, keep: (a: (typeof made)[number]) => boolean) => {
      const m = new Map<string, number>()
      const [gx0, gy0, gx1, gy1] = [view.x / cell, view.y / cell, (view.x + view.w) / cell, (view.y + view.h) / cell].map(Math.floor) as number[]
      for (const a of await listAnnotations(db, { target, limit: 10_000 })) {
        if (!keep(a)) continue
        const [x0, y0, x1, y1] = bounds(a.geometry)
        const gx = Math.floor((x0 + x1) / 2 / cell), gy = Math.floor((y0 + y1) / 2 / cell)
        if (gx < gx0! || gx > gx1! || gy < gy0! || gy > gy1!) continue
        const k = `${gx},${gy},${a.label.code}`
        m.set(k, (m.get(k) ?? 0) + 1)
      }
      return [...m].sort()
    }
    const got = (d: NonNullable<Awaited<ReturnType<typeof queryViewport>>['density']>) => {
      const m: [string, number][] = []
      for (let i = 0; i < d.cells.length; i += 4) m.push([`${d.cells[i]},${d.cells[i + 1]},${d.labels[d.cells[i + 2]!]!.code}`, d.cells[i + 3]!])
      return m.sort()
    }

    const res = await queryViewport(db, target, view, {}, 100)
    assert.equal(res.mode, 'density', 'more shapes than the limit, zoomed out: a density grid')
    assert.equal(res.density!.cellSize, 512, 'the finest cell at least 32 screen pixels across at scale 16')
    assert.equal(res.density!.total, 601)
    assert.deepEqual(got(res.density!), await expected(512, () => true))
    assert.equal(res.minExtent, 512, 'beside the grid, only shapes larger than a cell')
    assert.deepEqual(res.annotations.map((a) => a.id), [made[600]!.id], 'the large region stays a shape')
    assert.equal(res.truncated, false)
    const json = await queryViewportJson(db, target, view, {}, 100)
    const { annotationsJson, ...jsonMeta } = json
    const { annotations, ...meta } = res
    assert.deepEqual(jsonMeta, meta, 'the route answers the same, mode and grid included')
    assert.deepEqual(JSON.parse(annotationsJson), JSON.parse(JSON.stringify(annotations)))

    // Within the limit, zoomed in, or asked not to: shapes, as before, and said so.
    const within = await queryViewport(db, target, view, {}, 1000)
    const seen = made.filter((a) => { const [x0, y0, x1, y1] = bounds(a.geometry); return Math.max(x1 - x0, y1 - y0) >= 16 }).length
    assert.deepEqual([within.mode, within.density, within.count, within.truncated], ['shapes', undefined, seen, false])
    const off = await queryViewport(db, target, { ...view, density: false }, {}, 100)
    assert.deepEqual([off.mode, off.count, off.truncated], ['shapes', 100, true])
    const near = await queryViewport(db, target, { ...view, scale: 2 }, {}, 100)
    assert.deepEqual([near.mode, near.truncated], ['shapes', true])
    // A filter the counts cannot answer (author, task) falls back to shapes rather than guess.
    assert.equal((await queryViewport(db, target, view, { authors: ['reader-b'] }, 100)).mode, 'shapes')

    // Filters by label and blind reading: reader-a sees work nobody hides plus their own open task work, never another reader's.
    const blind = await queryViewport(db, target, view, { labels: ['tumour', 'stroma'], blindTo: 'reader-a' }, 100)
    assert.equal(blind.mode, 'density')
    const visible = (a: { taskId: string | null; author: string; status: string; label: { code: string } }) => ['tumour', 'stroma'].includes(a.label.code) && (a.taskId === null || a.author === 'reader-a' || a.status === 'accepted')
    assert.deepEqual(got(blind.density!), await expected(512, visible))
    assert.ok(made.some((a) => a.taskId && a.author !== 'reader-a' && a.status !== 'accepted' && ['tumour', 'stroma'].includes(a.label.code)), 'the test hides something')

    // Zoomed further out, a coarser cell; the counts follow updates and deletes (triggers, on both engines).
    await updateAnnotation(db, made[1]!.id, { geometry: square(30_000, 20_000, 12), label: { system: 'KURA-HE-TISSUE', code: 'necrosis' } }, 'reader-b')
    await updateAnnotation(db, made[2]!.id, { status: 'accepted' }, 'reviewer')
    await deleteAnnotation(db, made[4]!.id, 'reader-b')
    const after1 = await queryViewport(db, target, view, {}, 100)
    assert.equal(after1.density!.total, 600, 'one moved inside the view, one deleted')
    assert.deepEqual(got(after1.density!), await expected(512, () => true))
    const far = await queryViewport(db, target, { ...view, w: 1600 * 64, h: 1000 * 64, scale: 64 }, {}, 100)
    assert.equal(far.density!.cellSize, 2048)
    // Every count in the table equals a recount of the annotations (all slides, all cell sizes).
    const table = await sql<{ k: string; n: number }>`select slide_id || ' ' || cell || ' ' || gx || ' ' || gy || ' ' || label_code || ' ' || status || ' ' || hidden as k, n from annotation_density order by k`.execute(db)
    const recount = new Map<string, number>()
    for (const a of [...(await listAnnotations(db, { collectionId, limit: 10_000 })), ...(await listAnnotations(db, { collectionId: otherCollectionId, limit: 10_000 }))]) {
      if (a.target.kind !== 'slide') continue
      const [x0, y0, x1, y1] = bounds(a.geometry)
      for (const cell of DENSITY_CELLS) {
        const k = `${a.target.slideId} ${cell} ${Math.floor((x0 + x1) / 2 / cell)} ${Math.floor((y0 + y1) / 2 / cell)} ${a.label.code} ${a.status} ${a.taskId && a.status !== 'accepted' ? 1 : 0}`
        recount.set(k, (recount.get(k) ?? 0) + 1)
      }
    }
    const byKey = (p: [string, number], q: [string, number]) => (p[0] < q[0] ? -1 : p[0] > q[0] ? 1 : 0)
    assert.deepEqual(table.rows.map((x): [string, number] => [x.k, Number(x.n)]).sort(byKey), [...recount].sort(byKey))

    // The density read seeks the table's primary key, never scans it.
    const c = densityQuery(db, slideId, 256, [35, 35, 135, 98], { labels: ['tumour'] }).compile()
    const plan = await db.connection().execute(async (conn) => {
      if (engine === 'postgres') await sql`set enable_seqscan = off`.execute(conn)
      try {
        const rows = (await conn.executeQuery<Record<string, string>>({ ...c, sql: `${engine === 'postgres' ? 'explain' : 'explain query plan'} ${c.sql}` } as never)).rows
        return rows.map((row) => row['QUERY PLAN'] ?? row.detail).join('\n')
      } finally {
        if (engine === 'postgres') await sql`reset enable_seqscan`.execute(conn)
      }
    })
    assert.match(plan, engine === 'postgres' ? /Index (Only )?Scan using annotation_density_pkey[\s\S]*Index Cond: .*slide_id = .*cell = 256/ : /SEARCH annotation_density USING (PRIMARY KEY|INDEX sqlite_autoindex_annotation_density_1) \(slide_id=\? AND cell=\? AND gy=\? AND gx>\? AND gx<\?\)/, plan)
  })

  it('simplifies polygons when zoomed out and says so', async () => {
    const db = t.catalog.db
    const ring: Position[] = Array.from({ length: 400 }, (_, i) => [50_000 + 5000 * Math.cos((2 * Math.PI * i) / 400), 50_000 + 5000 * Math.sin((2 * Math.PI * i) / 400)])
    const big = await createAnnotation(db, collectionId, { target: { kind: 'slide', slideId: slides[1]! }, shape: 'polygon', geometry: { type: 'Polygon', coordinates: [[...ring, ring[0]!]] }, label: { system: 'KURA-HE-TISSUE', code: 'tumour' }, author: 'u1' })
    const view = { x: 44_000, y: 44_000, w: 12_000, h: 12_000 }
    const full = await queryViewport(db, { kind: 'slide', slideId: slides[1]! }, { ...view, scale: 1 })
    const far = await queryViewport(db, { kind: 'slide', slideId: slides[1]! }, { ...view, scale: 64 })
    const vertices = (g: Geometry) => (g as any).coordinates[0].length
    assert.equal(vertices(full.annotations.find((a) => a.id === big.id)!.geometry), 401)
    assert.equal(full.simplified, false)
    const simple = far.annotations.find((a) => a.id === big.id)!
    assert.ok(far.simplified)
    assert.ok(vertices(simple.geometry) < 60 && vertices(simple.geometry) >= 4, `simplified to ${vertices(simple.geometry)}`)
    assert.equal(vertices((await getAnnotation(db, big.id))!.geometry), 401, 'the stored shape is untouched')
  })

  it('lists with filters and pages in creation order', async () => {
    const db = t.catalog.db
    const target = { kind: 'slide' as const, slideId: slides[0]! }
    const all = await listAnnotations(db, { target, limit: 10_000 })
    const page1 = await listAnnotations(db, { target, limit: 100 })
    const page2 = await listAnnotations(db, { target, limit: 100, after: page1[99]!.id })
    assert.deepEqual([...page1, ...page2].map((a) => a.id), all.slice(0, 200).map((a) => a.id))
    const tumourU1 = await listAnnotations(db, { target, labels: ['tumour'], authors: ['u1'], limit: 10_000 })
    assert.deepEqual(tumourU1.map((a) => a.id), all.filter((a) => a.label.code === 'tumour' && a.author === 'u1').map((a) => a.id))
    assert.ok(tumourU1.length > 0)
    await assert.rejects(listAnnotations(db, {}), code('ANNOTATION_BAD_REQUEST'))
    assert.deepEqual(await targetCollections(db, target), [{ id: collectionId, name: 'path' }])
    assert.deepEqual(await targetCollections(db, { kind: 'slide', slideId: newId() }), [])
  })

  it('keeps image-level labels with status changes and deletion', async () => {
    const db = t.catalog.db
    const target = { kind: 'slide' as const, slideId: slides[1]! }
    const l = await createImageLabel(db, collectionId, { target, label: { system: 'KURA-GROUP', code: '5' }, author: 'u1', taskId: 'task-1' })
    assert.deepEqual(l.label, { system: 'KURA-GROUP', code: '5', version: '2026.1' })
    assert.deepEqual(await getImageLabel(db, l.id), l)
    await assert.rejects(createImageLabel(db, collectionId, { target, label: { system: 'KURA-GROUP', code: '6' }, author: 'u1' }), code('VOCABULARY_UNKNOWN_CODE'))
    const changed = await updateImageLabel(db, l.id, { status: 'submitted', label: { system: 'KURA-GROUP', code: '4' } })
    assert.equal(changed.status, 'submitted')
    assert.equal(changed.label.code, '4')
    await assert.rejects(updateImageLabel(db, l.id, { status: 'bogus' as AnnotationStatus }), code('ANNOTATION_BAD_REQUEST'))
    assert.deepEqual((await listImageLabels(db, { target })).map((x) => x.id), [l.id])
    assert.deepEqual((await listImageLabels(db, { taskIds: ['task-1'] })).map((x) => x.id), [l.id])
    assert.deepEqual(await listImageLabels(db, { target, labels: ['5'] }), [])
    assert.equal(await deleteImageLabel(db, l.id), true)
    assert.equal(await getImageLabel(db, l.id), undefined)
  })
})
