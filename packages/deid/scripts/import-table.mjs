// @module Regenerates src/profile/e1-1.data.json from the shared copy of PS3.15 Table E.1-1.
// Usage: node packages/deid/scripts/import-table.mjs [source.json]
// The runtime package must not depend on /work/shared, so the rows are copied verbatim
// (same field names as the innolitics extraction) and the source path and edition recorded.
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const DEFAULT_SOURCE = '/work/shared/data/dicom-standard/confidentiality_profile_attributes.with_keyword_vr.json'
const EDITION = '2024b'
const source = process.argv[2] ?? DEFAULT_SOURCE
const rows = JSON.parse(readFileSync(source, 'utf8'))
if (!Array.isArray(rows) || rows.length === 0) throw new Error(`${source}: expected a non-empty JSON array of Table E.1-1 rows`)
for (const r of rows) {
  if (typeof r.tag !== 'string' || typeof r.basicProfile !== 'string') throw new Error(`${source}: row without tag/basicProfile: ${JSON.stringify(r)}`)
}
const out = {
  source,
  upstream: 'github.com/innolitics/dicom-standard standard/confidentiality_profile_attributes.json joined with attributes.json',
  standard: 'DICOM PS3.15 Table E.1-1 Application Level Confidentiality Profile Attributes',
  edition: EDITION,
  generatedBy: 'packages/deid/scripts/import-table.mjs',
  rowCount: rows.length,
  rows,
}
const target = fileURLToPath(new URL('../src/profile/e1-1.data.json', import.meta.url))
writeFileSync(target, JSON.stringify(out, null, 1) + '\n')
console.log(`wrote ${rows.length} rows to ${target}`)
