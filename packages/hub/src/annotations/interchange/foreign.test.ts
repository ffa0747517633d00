/**
 * Cytomine, ASAP and Sectra imports of the public samples: counts, shape kinds, hand-checked vertices (read off
 * the files, with Cytomine's y flipped by a chosen image height and Sectra's fractions scaled by a chosen size),
 * labels through the mapping, and Cytomine's own recorded areas against ours.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { basename } from 'node:path'
import { importAsap } from './asap.ts'
import { importCytomine } from './cytomine.ts'
import { areaOf } from './geometry.ts'
import { importSectra } from './sectra.ts'
import { readSample, sampleFiles, TISSUE } from './testing.ts'
import { parseWkt } from './wkt.ts'

const labels = { '': { system: TISSUE, code: 'tumour' } }
const H = 40000
const byName = (dir: string, name: string) => readSample(sampleFiles(dir).find((f) => basename(f) === name)!)

describe('Cytomine import', () => {
  const one = (name: string) => {
    const r = importCytomine(byName('cytomine', name), { labels, imageHeight: H })
    assert.equal(r.annotations.length, 1)
    return r.annotations[0]!
  }

  it('imports all seven samples with their kinds and vertex counts', () => {
    const expect: Record<string, [string, string, number]> = {
      'cytomine-circle.txt': ['Polygon', 'polygon', 33],
      'cytomine-freehand-line.txt': ['LineString', 'polyline', 53],
      'cytomine-freehand-polygon.txt': ['Polygon', 'polygon', 183],
      'cytomine-line.txt': ['LineString', 'polyline', 5],
      'cytomine-point.txt': ['Point', 'point', 1],
      'cytomine-polygon.txt': ['Polygon', 'polygon', 5],
      'cytomine-rectangle.txt': ['Polygon', 'rectangle', 5],
    }
    const files = sampleFiles('cytomine')
    assert.equal(files.length, 7)
    for (const f of files) {
      const a = one(basename(f))
      const [type, shape, n] = expect[basename(f)]!
      assert.equal(a.geometry.type, type, f)
      assert.equal(a.shape, shape, f)
      const g = a.geometry
      const count = g.type === 'Point' ? 1 : g.type === 'Polygon' ? g.coordinates[0]!.length : g.type === 'LineString' ? g.coordinates.length : -1
      assert.equal(count, n, f)
      assert.deepEqual(a.label, labels[''])
    }
  })

  it('flips y with the image height (hand-checked vertices)', () => {
    assert.deepEqual(one('cytomine-point.txt').geometry, { type: 'Point', coordinates: [27646, H - 19349.34375] })
    assert.deepEqual(one('cytomine-rectangle.txt').geometry.coordinates, [
      [[28018, 21033.3125], [27600, 21033.3125], [27600, 20639.3125], [28018, 20639.3125], [28018, 21033.3125]],
    ])
    const line = one('cytomine-line.txt').geometry
    assert.deepEqual((line as { coordinates: number[][] }).coordinates[0], [27448, H - 18266.75])
    assert.deepEqual((line as { coordinates: number[][] }).coordinates[4], [26984, H - 17562.75])
  })

  it('gives the areas Cytomine recorded', () => {
    for (const name of ['cytomine-rectangle.txt', 'cytomine-polygon.txt', 'cytomine-freehand-polygon.txt']) {
      const a = one(name)
      const recorded = (JSON.parse(byName('cytomine', name)) as { annotation: { area: number } }).annotation.area
      assert.ok(Math.abs(areaOf(a.geometry) - recorded) <= 1, `${name}: ${areaOf(a.geometry)} vs ${recorded}`)
    }
  })

  it('keeps the annotation object but its location, and its creation time', () => {
    const a = one('cytomine-polygon.txt')
    const c = a.properties!.cytomine as Record<string, unknown>
    assert.equal(c.id, 434628)
    assert.equal(c.location, undefined)
    assert.equal(a.createdAt, new Date(1619514118480).toISOString())
  })

  it('maps term ids through the label mapping and needs the image height', () => {
    const doc = { collection: [{ location: 'POINT (1 2)', term: [77] }, { location: 'POINT (3 4)', term: [] }] }
    const r = importCytomine(JSON.stringify(doc), { labels: { '77': { system: TISSUE, code: 'stroma' } }, imageHeight: 10, onUnmapped: 'hold' })
    assert.deepEqual(r.annotations.map((a) => [a.label.code, a.geometry.coordinates]), [['stroma', [1, 8]]])
    assert.deepEqual(r.unmapped, [{ className: '', count: 1 }])
    assert.throws(() => importCytomine(JSON.stringify(doc), { labels, imageHeight: 0 }), /height/)
  })
})

describe('WKT', () => {
  it('reads both MULTIPOINT spellings, MULTIPOLYGON with holes and exponents', () => {
    assert.deepEqual(parseWkt('MULTIPOINT ((1 2), (3 4))'), parseWkt('MULTIPOINT (1 2, 3 4)'))
    assert.deepEqual((parseWkt('MULTIPOLYGON (((0 0, 4 0, 4 4, 0 0), (1 1, 2 1, 2 2, 1 1)))').coordinates as number[][][][])[0]![1], [[1, 1], [2, 1], [2, 2], [1, 1]])
    assert.deepEqual(parseWkt('point(1e2 -2.5)'), { type: 'Point', coordinates: [100, -2.5] })
    assert.throws(() => parseWkt('POINT EMPTY'), /EMPTY/)
    assert.throws(() => parseWkt('POINT Z (1 2 3)'), /WKT/)
    assert.throws(() => parseWkt('MULTILINESTRING ((0 0, 1 1))'), /MULTILINESTRING/)
  })
})

describe('ASAP import', () => {
  it('reads a polygon (closed here), a point set and a dot, with hand-checked vertices', () => {
    const poly = importAsap(byName('asap', 'asap-polygon.xml'), { labels }).annotations
    assert.equal(poly.length, 1)
    assert.equal(poly[0]!.shape, 'polygon')
    const ring = (poly[0]!.geometry as { coordinates: number[][][] }).coordinates[0]!
    assert.equal(ring.length, 7)
    assert.deepEqual(ring[0], [22851.3281, 16551.1797])
    assert.deepEqual(ring[5], [22954.1191, 16565.2363])
    assert.deepEqual(ring[6], ring[0])
    const set = importAsap(byName('asap', 'asap-pointset.xml'), { labels }).annotations[0]!
    assert.equal(set.shape, 'point')
    assert.equal(set.geometry.type, 'MultiPoint')
    assert.equal((set.geometry as { coordinates: unknown[] }).coordinates.length, 5)
    assert.deepEqual((set.geometry as { coordinates: unknown[] }).coordinates[2], [22819.2598, 16718.9844])
    const dot = importAsap(byName('asap', 'asap-dot.xml'), { labels }).annotations[0]!
    assert.deepEqual(dot.geometry, { type: 'Point', coordinates: [23071.5605, 16831.0098] })
    assert.deepEqual(dot.properties!.asap, { name: 'Annotation 0', type: 'Dot', group: null, color: '#F4FA58' })
  })

  it('labels by group, orders by Order, and refuses unknown types', () => {
    const xml = `<?xml version="1.0"?><ASAP_Annotations><Annotations>
      <Annotation Name="a" Type="Rectangle" PartOfGroup="Tumor" Color="#ff0000"><Coordinates>
        <Coordinate Order="1" X="10" Y="0"/><Coordinate Order="0" X="0" Y="0"/><Coordinate Order="2" X="10" Y="5"/><Coordinate Order="3" X="0" Y="5"/>
      </Coordinates></Annotation></Annotations>
      <AnnotationGroups><Group Name="Tumor" PartOfGroup="None" Color="#00ff00"><Attributes/></Group></AnnotationGroups></ASAP_Annotations>`
    const [a] = importAsap(xml, { labels: { Tumor: { system: TISSUE, code: 'tumour' } } }).annotations
    assert.equal(a!.shape, 'rectangle')
    assert.deepEqual(a!.geometry.coordinates, [[[0, 0], [10, 0], [10, 5], [0, 5], [0, 0]]])
    assert.equal((a!.properties!.asap as { groupColor: string }).groupColor, '#00ff00')
    assert.throws(() => importAsap(xml.replace('Rectangle', 'Measure'), { labels }), /Measure/)
    assert.throws(() => importAsap('<nope/>', { labels }), /ASAP_Annotations/)
  })
})

describe('Sectra import', () => {
  const W = 100000
  const SH = 50000
  it('scales the area and polyline samples to pixels', () => {
    const area = importSectra(byName('sectra', 'pathologycore-area.json'), { labels, imageWidth: W, imageHeight: SH }).annotations
    assert.equal(area.length, 1)
    assert.equal(area[0]!.shape, 'polygon')
    const ring = (area[0]!.geometry as { coordinates: number[][][] }).coordinates[0]!
    assert.equal(ring.length, 28)
    assert.deepEqual(ring[0], [0.688998027588846 * W, 0.228049838688565 * SH])
    assert.deepEqual(ring[27], ring[0])
    const line = importSectra(byName('sectra', 'pathologycore-polyline.json'), { labels, imageWidth: W, imageHeight: SH }).annotations[0]!
    assert.equal(line.shape, 'polyline')
    assert.equal((line.geometry as { coordinates: unknown[] }).coordinates.length, 6)
    assert.deepEqual((line.geometry as { coordinates: unknown[] }).coordinates[5], [0.555567176354927 * W, 0.368146924090614 * SH])
    assert.equal((line.properties!.sectra as { rowVersion: number }).rowVersion, 2)
    assert.equal(line.createdAt, '2021-04-20T08:37:26.030Z')
  })

  it('needs the image size', () => {
    assert.throws(() => importSectra(byName('sectra', 'pathologycore-area.json'), { labels, imageWidth: 0, imageHeight: 0 }), /INTERCHANGE|fractions/)
  })
})
