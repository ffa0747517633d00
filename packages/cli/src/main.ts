/**
 * @module The `kura` command: picks the verb, runs it, and maps failures to exit codes
 * (0 ok, 1 the work failed or was partly refused, 2 the command line was wrong).
 *
 * Verbs load lazily, so `kura --help` and `kura synth` never load the hub's server stack.
 */
import { readFileSync } from 'node:fs'
import { isKuraError } from '@kura/core'
import { isUsageError, UsageError } from './args.ts'

export interface Verb {
  summary: string
  /** Arguments after the first belong to something else (a benchmark), --help included. */
  passThrough?: boolean
  load: () => Promise<{ help: string; run(argv: string[]): Promise<number> }>
}

export const VERBS: Record<string, Verb> = {
  hub: { summary: 'Run the hub: DICOMweb and the archive on the configured catalog and object store.', load: () => import('./commands/hub.ts') },
  import: { summary: 'Store DICOM files and folders in a collection (directly, or over STOW-RS with --url).', load: () => import('./commands/import.ts') },
  deid: { summary: 'De-identify DICOM files and folders into a folder, verifying each output (PS3.15 Annex E).', load: () => import('./commands/deid.ts') },
  synth: { summary: 'Write synthetic test data: a DICOM corpus (Japanese patients; CT, MR, endoscopy) or a slide (SVS, NDPI, TIFF, DICOM WSI).', load: () => import('./commands/synth.ts') },
  demo: { summary: 'Fill a hub with a small synthetic corpus in two collections, and say how to look at it.', load: () => import('./commands/demo.ts') },
  gateway: { summary: 'Run the site gateway: receive, de-identify on site, upload to the hub (init, status).', load: () => import('./commands/gateway.ts') },
  collection: { summary: 'Create and list collections, and mark them de-identified only (on the hub\'s machine).', load: () => import('./commands/collection.ts') },
  site: { summary: 'Create and list sites (facilities), on the hub\'s machine.', load: () => import('./commands/site.ts') },
  token: { summary: 'Create, list and revoke API tokens (on the hub\'s machine).', load: () => import('./commands/token.ts') },
  user: { summary: 'Add users and grant them roles on collections (on the hub\'s machine).', load: () => import('./commands/user.ts') },
  annotations: { summary: 'Import annotation files (QuPath, Cytomine, ASAP, Sectra) into a hub, and export them (GeoJSON, COCO, tiles with masks).', load: () => import('./commands/annotations.ts') },
  records: { summary: 'Draft a vendor-export adapter from a sample (propose-mapping), or check an export against one.', load: () => import('./commands/records.ts') },
  audit: { summary: 'Verify the hash-chained audit log, or export a range of it.', load: () => import('./commands/audit.ts') },
  vocabulary: { summary: 'List vocabularies, or import a licensed one (SNOMED CT, ICD-O-3, MEDIS) from a CSV/TSV file (on the hub\'s machine).', load: () => import('./commands/vocabulary.ts') },
  bench: { summary: 'Run a benchmark from bench/ (ingest, query, ...).', passThrough: true, load: () => import('./commands/bench.ts') },
}

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

export function mainHelp(): string {
  const width = Math.max(...Object.keys(VERBS).map((v) => v.length))
  return [
    'Kura: collects medical images into a shared, de-identified research archive.',
    '',
    'Usage: kura <command> [options]',
    '',
    'Commands:',
    ...Object.entries(VERBS).map(([name, v]) => `  ${name.padEnd(width)}  ${v.summary}`),
    '',
    'Options:',
    '  --help, -h     Show this help; "kura <command> --help" shows a command\'s options.',
    '  --version, -v  Print the version.',
    '',
  ].join('\n')
}

/** Runs the command line `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv
  try {
    if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
      if (first === 'help' && rest[0]) return await main([rest[0], '--help'])
      process.stdout.write(mainHelp())
      return first === undefined ? 2 : 0
    }
    if (first === '--version' || first === '-v' || first === 'version') {
      process.stdout.write(`kura ${version()}\n`)
      return 0
    }
    const verb = Object.hasOwn(VERBS, first) ? VERBS[first] : undefined
    if (!verb) {
      throw new UsageError(first.startsWith('-') ? `Unknown option "${first}". Run "kura --help".` : `Unknown command "${first}". Run "kura --help" for the commands.`)
    }
    const mod = await verb.load()
    const ownArgs = verb.passThrough ? rest.slice(0, 1) : rest.slice(0, rest.includes('--') ? rest.indexOf('--') : undefined)
    if (ownArgs.includes('--help') || ownArgs.includes('-h')) {
      process.stdout.write(mod.help.endsWith('\n') ? mod.help : mod.help + '\n')
      return 0
    }
    return await mod.run(rest)
  } catch (e) {
    if (isUsageError(e)) {
      process.stderr.write(`kura: ${e.message}\n`)
      return 2
    }
    if (isKuraError(e)) {
      process.stderr.write(`kura: ${e.message} [${e.code}]\n`)
      if (process.env.KURA_DEBUG && e.cause) process.stderr.write(`${(e.cause as Error)?.stack ?? String(e.cause)}\n`)
      return 1
    }
    process.stderr.write(`kura: unexpected error: ${(e as Error)?.stack ?? String(e)}\n`)
    return 1
  }
}

// Run only as the program, not when a test imports this module.
const isEntry = process.argv[1] !== undefined && /[\\/](kura(\.js)?|main\.ts)$/.test(process.argv[1])
if (isEntry) {
  const code = await main(process.argv.slice(2))
  process.exitCode = code
  // A stray handle (a keep-alive socket, a worker pool) must not keep a finished command alive.
  setTimeout(() => process.exit(code), 2000).unref()
}
