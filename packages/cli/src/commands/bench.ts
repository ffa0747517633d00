/**
 * @module `kura bench <name>`: runs bench/<name>.ts, whose `run(argv)` does the measuring.
 * Only the dispatch lives here; the benchmarks are their own modules.
 */
import { existsSync, readdirSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { join } from 'node:path'
import { UsageError } from '../args.ts'

/** The repository's bench/ folder (this file is packages/cli/src/commands/bench.ts). */
export const BENCH_DIR = fileURLToPath(new URL('../../../../bench/', import.meta.url))

function available(): string[] {
  try {
    return readdirSync(BENCH_DIR)
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.startsWith('_'))
      .map((f) => f.slice(0, -3))
      .sort()
  } catch {
    return []
  }
}

export const help = `Usage: kura bench <name> [options for that benchmark]

Runs the benchmark bench/<name>.ts (e.g. ingest, query); everything after the name is passed
to it, so "kura bench ingest --help" shows that benchmark's own options.
Available now: ${available().join(', ') || '(none yet)'}
`

export async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (!name || name.startsWith('-')) throw new UsageError(`Name the benchmark to run: kura bench <${available().join('|') || 'name'}>. Run "kura bench --help".`)
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new UsageError(`"${name}" is not a benchmark name (letters, digits and "-").`)
  const file = join(BENCH_DIR, `${name}.ts`)
  if (!existsSync(file)) {
    const have = available()
    throw new UsageError(`bench/${name}.ts is missing (looked for ${file}).${have.length ? ` Available: ${have.join(', ')}.` : ''}`)
  }
  const mod = (await import(pathToFileURL(file).href)) as { run?: (argv: string[]) => Promise<void> }
  if (typeof mod.run !== 'function') throw new UsageError(`bench/${name}.ts does not export run(argv: string[]): Promise<void>.`)
  await mod.run(rest)
  return 0
}
