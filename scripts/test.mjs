// Runs every *.test.ts under packages/ and test/ with Node's own test runner (TypeScript via tsx).
// Usage: node scripts/test.mjs [path-substring ...] [--exclude=substring ...]   e.g. `npm test -- dicom`
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'

const roots = ['packages', 'test']
const files = []
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue
    const p = join(dir, name)
    if (statSync(p).isDirectory()) walk(p)
    else if (name.endsWith('.test.ts')) files.push(p)
  }
}
for (const r of roots) { try { walk(r) } catch {} }
const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'))
const excluded = process.argv.slice(2).filter((a) => a.startsWith('--exclude=')).map((a) => a.slice('--exclude='.length))
const selected = files.sort().filter((f) => (filters.length === 0 || filters.some((s) => f.includes(s))) && !excluded.some((s) => f.includes(s)))
if (selected.length === 0) { console.error('no test files matched'); process.exit(1) }
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...selected], { stdio: 'inherit' })
process.exit(r.status ?? 1)
