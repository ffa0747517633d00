/**
 * @module Well-Known Text (OGC 06-103r4) for the 2-D types Kura stores: POINT, MULTIPOINT (both spellings),
 * LINESTRING, POLYGON, MULTIPOLYGON. Numbers are read with JavaScript's own parser, so values round-trip exactly.
 */
import type { Geometry, Position } from '../model.ts'
import { InterchangeErrors } from './errors.ts'

class Cursor {
  i = 0
  constructor(readonly s: string, readonly format: string) {}
  ws() {
    while (this.i < this.s.length && /\s/.test(this.s[this.i]!)) this.i++
  }
  peek() {
    this.ws()
    return this.s[this.i]
  }
  expect(ch: string) {
    if (this.peek() !== ch) this.fail(`expected "${ch}"`)
    this.i++
  }
  word(): string {
    this.ws()
    const m = /^[A-Za-z]+/.exec(this.s.slice(this.i))
    if (!m) this.fail('expected a geometry type')
    this.i += m![0].length
    return m![0].toUpperCase()
  }
  number(): number {
    this.ws()
    const m = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/.exec(this.s.slice(this.i))
    if (!m) this.fail('expected a number')
    this.i += m![0].length
    return Number(m![0])
  }
  fail(why: string): never {
    throw InterchangeErrors.badFile(this.format, `WKT ${why} at character ${this.i}`)
  }
}

const position = (c: Cursor): Position => [c.number(), c.number()]

function list<T>(c: Cursor, item: () => T): T[] {
  c.expect('(')
  const out = [item()]
  while (c.peek() === ',') {
    c.i++
    out.push(item())
  }
  c.expect(')')
  return out
}

/** Parses one WKT geometry; Z/M and EMPTY geometries are refused (nothing to draw, or a dimension we drop). */
export function parseWkt(text: string, format = 'WKT'): Geometry {
  const c = new Cursor(text, format)
  const type = c.word()
  if (c.peek() !== '(') c.fail(`${type} without coordinates (EMPTY, Z and M geometries are not supported)`)
  let g: Geometry
  switch (type) {
    case 'POINT':
      g = { type: 'Point', coordinates: list(c, () => position(c))[0]! }
      break
    case 'MULTIPOINT':
      // Both "MULTIPOINT ((1 2), (3 4))" and the older "MULTIPOINT (1 2, 3 4)".
      g = { type: 'MultiPoint', coordinates: list(c, () => (c.peek() === '(' ? list(c, () => position(c))[0]! : position(c))) }
      break
    case 'LINESTRING':
      g = { type: 'LineString', coordinates: list(c, () => position(c)) }
      break
    case 'POLYGON':
      g = { type: 'Polygon', coordinates: list(c, () => list(c, () => position(c))) }
      break
    case 'MULTIPOLYGON':
      g = { type: 'MultiPolygon', coordinates: list(c, () => list(c, () => list(c, () => position(c)))) }
      break
    default:
      throw InterchangeErrors.unsupportedGeometry(format, type)
  }
  c.ws()
  if (c.i !== text.length) c.fail('has text after the geometry')
  return g
}
