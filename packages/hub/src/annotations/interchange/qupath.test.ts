/**
 * QuPath GeoJSON round-trips. Every sample is imported, completed into annotations, exported with the container
 * it came in, and compared with the original by value (assert.deepStrictEqual on both parsed documents).
 *
 * Normalised, and why: key order and number spelling (whitespace, `1.0` vs `1`, exponent form). QuPath reads
 * GeoJSON with Gson into maps and doubles, so neither carries meaning; every value, key, array order and nesting
 * must come back. The samples are QuPath 0.2 files; a synthetic QuPath 0.4+ collection covers what they lack
 * (UUID ids, objectType detection/cell with nucleusGeometry, `color`/`names` classifications, measurement
 * objects, MultiPolygon with holes, metadata, FeatureCollection members).
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { basename } from 'node:path'
import { exportQuPath, importQuPath, type QuPathStash } from './qupath.ts'
import { asAnnotations, readSample, sampleFiles, TISSUE } from './testing.ts'

const labels = {
  '': { system: TISSUE, code: 'tumour' },
  Cell: { system: TISSUE, code: 'lymphocytes' },
  Nucleus: { system: TISSUE, code: 'necrosis' },
  Tumor: { system: TISSUE, code: 'tumour' },
  'Tumor: Positive': { system: TISSUE, code: 'tumour-positive' },
  Stroma: { system: TISSUE, code: 'stroma' },
}

function roundTrip(text: string) {
  const imp = importQuPath(text, { labels })
  const out = exportQuPath(asAnnotations(imp.annotations), { container: imp.container, collection: imp.collection, labels })
  return { imp, out: JSON.parse(JSON.stringify(out)) as unknown }
}

const files = [...sampleFiles('qupath_geojson'), ...sampleFiles('qupath_geojson_advanced')]

describe('QuPath GeoJSON samples round-trip losslessly', () => {
  it('finds the samples', () => assert.equal(files.length, 10))
  for (const f of files) {
    it(basename(f), () => {
      const text = readSample(f)
      const { imp, out } = roundTrip(text)
      assert.ok(imp.annotations.length >= 1)
      assert.deepStrictEqual(out, JSON.parse(text))
    })
  }
})

describe('QuPath import', () => {
  it('reads shape kinds, coordinates and labels', () => {
    const get = (name: string) => importQuPath(readSample(files.find((f) => basename(f) === `qupath-${name}.json`)!), { labels }).annotations
    assert.equal(get('point')[0]!.shape, 'point')
    assert.deepEqual(get('point')[0]!.geometry, { type: 'Point', coordinates: [26833.53, 15424.94] })
    assert.equal(get('multipoint')[0]!.geometry.type, 'MultiPoint')
    assert.equal(get('polyline')[0]!.shape, 'polyline')
    assert.equal(get('line')[0]!.shape, 'polyline')
    const rect = get('rectangle')[0]!
    assert.equal(rect.shape, 'rectangle')
    assert.deepEqual(rect.geometry.coordinates, [[[26268, 15298], [26268, 15474], [26478, 15474], [26478, 15298], [26268, 15298]]])
    assert.equal(get('polygon')[0]!.shape, 'polygon')
    assert.deepEqual(get('polygon')[0]!.label, { system: TISSUE, code: 'tumour' })
    const cells = importQuPath(readSample(files.find((f) => f.includes('cell-classified'))!), { labels }).annotations
    assert.deepEqual(
      cells.map((c) => c.label.code),
      ['lymphocytes', 'lymphocytes', 'necrosis', 'necrosis'],
    )
    assert.equal((cells[0]!.properties!.qupath as QuPathStash).properties.name, 'Erythrocytes 2')
  })

  it('refuses unmapped classes by default and names them with counts', () => {
    const text = readSample(files.find((f) => f.includes('cell-classified'))!)
    assert.throws(
      () => importQuPath(text, { labels: { Cell: labels.Cell } }),
      (e: Error & { code?: string; details?: { unmapped: unknown } }) => e.code === 'INTERCHANGE_UNMAPPED_CLASSES' && JSON.stringify(e.details!.unmapped) === JSON.stringify([{ className: 'Nucleus', count: 2 }]),
    )
  })

  it('holds unmapped objects back when asked, and reports them', () => {
    const text = readSample(files.find((f) => f.includes('cell-classified'))!)
    const r = importQuPath(text, { labels: { Cell: labels.Cell }, onUnmapped: 'hold' })
    assert.equal(r.annotations.length, 2)
    assert.equal(r.held, 2)
    assert.deepEqual(r.unmapped, [{ className: 'Nucleus', count: 2 }])
  })

  it('rejects geometry Kura does not store, and coordinates that are not x, y pairs', () => {
    const f = (geometry: unknown) => JSON.stringify({ type: 'Feature', geometry, properties: {} })
    assert.throws(() => importQuPath(f({ type: 'GeometryCollection', geometries: [] }), { labels }), /GeometryCollection/)
    assert.throws(() => importQuPath(f({ type: 'Point', coordinates: [1, 2, 3] }), { labels }), /INTERCHANGE|x, y/)
    assert.throws(() => importQuPath('{"type":"Feature"', { labels }), /does not parse/)
  })
})

/** A QuPath 0.4+ style collection with everything the public samples lack. */
const modern = {
  type: 'FeatureCollection',
  name: 'export from QuPath',
  features: [
    {
      type: 'Feature',
      id: '3f2b5c1e-8d7a-4c6b-9e0f-1a2b3c4d5e6f',
      geometry: {
        type: 'MultiPolygon',
        coordinates: [
          [
            [[0, 0], [100, 0], [100, 100], [0, 100], [0, 0]],
            [[25, 25], [25, 75], [75, 75], [75, 25], [25, 25]],
          ],
          [[[200.5, 200.25], [300, 200], [250, 300.125], [200.5, 200.25]]],
        ],
      },
      properties: { objectType: 'annotation', name: 'ring', classification: { name: 'Tumor', color: [200, 0, 0] }, isLocked: true, metadata: { source: 'x' } },
    },
    {
      type: 'Feature',
      id: '5a0e2f7c-0000-4000-8000-000000000002',
      geometry: { type: 'Polygon', coordinates: [[[10, 10], [20, 10], [20, 20], [10, 20], [10, 10]]] },
      nucleusGeometry: { type: 'Polygon', coordinates: [[[12, 12], [18, 12], [18, 18], [12, 18], [12, 12]]] },
      properties: {
        objectType: 'cell',
        classification: { names: ['Tumor', 'Positive'], color: [255, 100, 0] },
        measurements: { 'Nucleus: Area µm^2': 36.5, 'Cell: Max caliper': 14.1421356237 },
      },
    },
    {
      type: 'Feature',
      id: '5a0e2f7c-0000-4000-8000-000000000003',
      geometry: { type: 'Point', coordinates: [1e-7, 123456789.125] },
      properties: { objectType: 'detection', classification: { name: 'Stroma', colorRGB: -8397766 }, measurements: [{ name: 'x', value: 1 }] },
    },
    { type: 'Feature', id: 'PathAnnotationObject', geometry: { type: 'LineString', coordinates: [[0, 0], [1, 1]] } },
  ],
}

describe('QuPath 0.4+ features round-trip losslessly', () => {
  it('keeps ids, object types, nucleus geometry, classifications, measurements, holes and collection members', () => {
    const { imp, out } = roundTrip(JSON.stringify(modern))
    assert.equal(imp.container, 'FeatureCollection')
    assert.deepEqual(imp.annotations.map((a) => a.label.code), ['tumour', 'tumour-positive', 'stroma', 'tumour'])
    assert.deepStrictEqual(out, modern)
  })

  it('notices a lost property (the comparison can fail)', () => {
    const imp = importQuPath(JSON.stringify(modern), { labels })
    delete (imp.annotations[1]!.properties!.qupath as QuPathStash).feature.nucleusGeometry
    const out = JSON.parse(JSON.stringify(exportQuPath(asAnnotations(imp.annotations), { container: imp.container, collection: imp.collection, labels })))
    assert.notDeepStrictEqual(out, modern)
  })

  it('writes the new class of a relabelled annotation instead of the stored one', () => {
    const imp = importQuPath(JSON.stringify(modern), { labels })
    const anns = asAnnotations(imp.annotations)
    anns[0]!.label = { system: TISSUE, code: 'stroma' }
    const out = exportQuPath(anns, { labels }) as { features: { properties: { classification?: unknown } }[] }
    assert.deepEqual(out.features[0]!.properties.classification, { name: 'Stroma' })
    assert.deepEqual(out.features[1]!.properties.classification, modern.features[1]!.properties!.classification)
  })

  it('exports annotations drawn in Kura as QuPath 0.4 annotations', () => {
    const [a] = asAnnotations([{ shape: 'polygon', geometry: { type: 'Polygon', coordinates: [[[0, 0], [4, 0], [4, 4], [0, 0]]] }, label: { system: TISSUE, code: 'necrosis' } }])
    const out = exportQuPath([a!], { classOf: (c) => ({ name: c.code === 'necrosis' ? 'Necrosis' : c.code, color: [1, 2, 3] }) }) as { features: unknown[] }
    assert.deepEqual(out.features[0], {
      type: 'Feature',
      id: a!.id,
      geometry: a!.geometry,
      properties: { objectType: 'annotation', classification: { name: 'Necrosis', color: [1, 2, 3] } },
    })
  })
})
