/**
 * @module `kura deid`: de-identify DICOM files and folders into an output folder, verifying every
 * output against the identifiers of its source before it reaches the clean tree.
 *
 * Each input is parsed, rewritten by @kura/deid into `<out>/.tmp/`, re-read (text values loaded,
 * pixel data never) and scanned for the source's identifiers. Clean → `<out>/<relative path>`;
 * findings → `<out>/quarantine/<relative path>` with `<file>.reason.json` (reasons only, never values).
 * Nothing that failed verification or errored is ever left in the clean tree.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises'
import { basename, dirname, join, relative, resolve, sep } from 'node:path'
import { isKuraError } from '@kura/core'
import { UsageError, intFlag, parseFlags } from '../args.ts'
import { Progress, formatBytes, formatDuration } from '../progress.ts'
import { walk } from '../walk.ts'
import { lookupHelp, runLookup } from './deid-lookup.ts'

export const help = `Usage: kura deid <file|folder> <out-folder> --secret-file FILE [options]
       kura deid --init-secret FILE
       kura deid lookup --reid FILE --key-file F [--collection NAME] [--reason TEXT] <pseudonym|new UID>
       kura deid lookup --reid FILE --verify-log

De-identifies DICOM Part 10 files (PS3.15 Annex E) into <out-folder>, keeping the relative paths.
Folders are walked recursively (hidden files and DICOMDIR are skipped). Every output is re-read and
checked for the source's identifiers (names, IDs, dates, ...): a clean one goes to <out-folder>,
one with findings to <out-folder>/quarantine/ with a .reason.json beside it (reasons only, never the
values). Files that are not DICOM are rejected; engine errors fail and leave no output.
Exit code 0 when every file came out clean, 1 when any was quarantined, rejected or failed.

Options:
  --secret-file FILE  Site secret behind the keyed pseudonyms and date shifts. Required.
                      Create one with "kura deid --init-secret FILE" (mode 0600; keep it safe).
  --init-secret FILE  Create a new secret file (refuses to overwrite one), then exit.
  --policy FILE|basic De-identification policy: "basic" (default, the Basic Profile) or a JSON or
                      YAML file (packages/deid/policies/example.yaml explains every field).
  --reid FILE         Record, at this site only, which patient each pseudonym and each new Study/
                      Series/SOP Instance UID stands for, in this encrypted table (created mode 0600).
                      Needs --key-file. Never upload or share it.
  --key-file F        The operator key sealing the --reid table (make one with --init-secret; keep it
                      apart from the site secret).
  --collection NAME   Pseudonym domain: the same patient gets other pseudonyms in another collection
                      (default "default").
  --concurrency N     Files processed at once (default 4).
  --help              Show this help.

kura deid lookup:
${lookupHelp.slice(lookupHelp.indexOf('Looks up')).replace('Options:', 'Lookup options:')}`

const MAX_LISTED = 20

interface Problem {
  path: string
  status: 'quarantined' | 'rejected' | 'failed'
  reason: string
}

function errorText(e: unknown): string {
  if (isKuraError(e)) return `${e.message} [${e.code}]`
  return (e as Error)?.message ?? String(e)
}

/** Parent folders first, so a relative path can never climb out of `<out>`. */
function safeRelative(rel: string): string {
  const parts = rel.split(/[\\/]+/).filter((p) => p !== '' && p !== '.' && p !== '..')
  return parts.join(sep)
}

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'lookup') return runLookup(argv.slice(1))
  const { values, positionals } = parseFlags('deid', argv, {
    reid: { type: 'string' },
    'key-file': { type: 'string' },
    policy: { type: 'string' },
    'secret-file': { type: 'string' },
    'init-secret': { type: 'string' },
    collection: { type: 'string', short: 'c' },
    concurrency: { type: 'string' },
  }, true)
  const deid = await import('@kura/deid')

  if (values['init-secret'] !== undefined) {
    if (positionals.length > 0) throw new UsageError('--init-secret takes only the file to create. Run "kura deid --help".')
    const path = values['init-secret']
    deid.writeSecretFile(path)
    process.stdout.write(`Wrote a new site secret to ${path} (mode 0600). Keep it safe and backed up: pseudonyms depend on it.\n`)
    return 0
  }

  if (positionals.length !== 2) throw new UsageError('Give an input file or folder and an output folder: kura deid <in> <out> --secret-file FILE. Run "kura deid --help".')
  if (!values['secret-file']) {
    throw new UsageError('--secret-file is required: keyed pseudonyms need the site secret. Create one with "kura deid --init-secret FILE" and pass --secret-file FILE.')
  }
  const concurrency = intFlag('deid', 'concurrency', values.concurrency, 4, 1, 64)
  const collection = values.collection ?? 'default'
  if (collection.trim() === '') throw new UsageError('--collection must not be empty.')
  const policy = values.policy === undefined || values.policy === 'basic' ? deid.BASIC_POLICY : deid.loadPolicy(values.policy)
  const secret = deid.loadSecret(values['secret-file'])
  if ((values.reid === undefined) !== (values['key-file'] === undefined)) {
    throw new UsageError('--reid and --key-file go together: the re-identification table and the operator key that seals it.')
  }
  const reid = values.reid !== undefined ? deid.ReidTable.openWithKeyFile(values.reid, values['key-file']!) : undefined

  const [inArg, outArg] = positionals as [string, string]
  const inRoot = resolve(inArg)
  const outRoot = resolve(outArg)
  let inStat
  try {
    inStat = await stat(inRoot)
  } catch {
    throw new UsageError(`Input "${inArg}" does not exist.`)
  }
  try {
    if (!(await stat(outRoot)).isDirectory()) throw new UsageError(`Output "${outArg}" exists and is not a folder.`)
  } catch (e) {
    if (isKuraError(e)) throw e
  }
  const base = inStat.isDirectory() ? inRoot : dirname(inRoot)
  const found = await walk([inRoot])
  const quarantineRoot = join(outRoot, 'quarantine')
  // Never read back what this command wrote when <out> lies inside <in>.
  const files = found.files.filter((f) => {
    const p = resolve(f.path)
    return !(p === outRoot || p.startsWith(outRoot + sep))
  })
  if (found.skipped.length > 0) process.stderr.write(`Skipping ${found.skipped.length} hidden or DICOMDIR file(s).\n`)
  if (files.length === 0) {
    process.stdout.write('No files to de-identify.\n')
    return 0
  }

  const tmpDir = join(outRoot, '.tmp')
  await mkdir(tmpDir, { recursive: true })

  const totalBytes = files.reduce((n, f) => n + f.size, 0)
  const progress = new Progress({ label: 'deid', totalFiles: files.length, totalBytes })
  const counts = { clean: 0, quarantined: 0, rejected: 0, failed: 0 }
  const problems: Problem[] = []
  let doneFiles = 0
  let doneBytes = 0

  const processOne = async (file: { path: string; size: number }): Promise<void> => {
    const rel = safeRelative(relative(base, resolve(file.path))) || basename(file.path)
    const cleanPath = join(outRoot, rel)
    const qPath = join(quarantineRoot, rel)
    const tmpPath = join(tmpDir, `${randomBytes(8).toString('hex')}.dcm`)
    try {
      const r = await deid.deidentifyFile(file.path, tmpPath, { policy, secret, collection, reid })
      if (r.kind === 'unreadable') {
        counts.rejected++
        problems.push({ path: file.path, status: 'rejected', reason: r.reason })
      } else if (r.kind === 'failed') {
        counts.failed++
        problems.push({ path: file.path, status: 'failed', reason: r.reason })
      } else if (r.kind === 'clean') {
        await rm(qPath, { force: true })
        await rm(`${qPath}.reason.json`, { force: true })
        await mkdir(dirname(cleanPath), { recursive: true })
        await rename(tmpPath, cleanPath)
        counts.clean++
      } else {
        await rm(cleanPath, { force: true })
        await mkdir(dirname(qPath), { recursive: true })
        await rename(tmpPath, qPath)
        const report = { file: rel, policy: { id: policy.id, version: policy.version }, collection, findings: r.findings.map((f) => ({ path: f.path, keyword: f.keyword, kind: f.kind, reason: f.reason })) }
        await writeFile(`${qPath}.reason.json`, JSON.stringify(report, null, 2) + '\n', { mode: 0o600 })
        counts.quarantined++
        problems.push({ path: file.path, status: 'quarantined', reason: r.findings.map((f) => f.reason).join('; ') })
      }
    } finally {
      await rm(tmpPath, { force: true })
    }
  }

  let next = 0
  const worker = async () => {
    while (next < files.length) {
      const file = files[next++]!
      try {
        await processOne(file)
      } catch (e) {
        counts.failed++
        problems.push({ path: file.path, status: 'failed', reason: errorText(e) })
      }
      doneFiles++
      doneBytes += file.size
      progress.update(doneFiles, doneBytes)
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker))
  } finally {
    progress.done()
    reid?.close()
    await rmdir(tmpDir).catch(() => {})
  }

  const elapsed = progress.elapsedMs
  const secs = Math.max(0.001, elapsed / 1000)
  const lines = [`De-identified into ${outArg} (policy ${policy.id} ${policy.version}, collection "${collection}"): ${files.length} file${files.length === 1 ? '' : 's'} (${formatBytes(totalBytes)}) in ${formatDuration(elapsed)}, ${(files.length / secs).toFixed(1)} files/s`]
  const rows: Array<[string, number]> = [['cleaned', counts.clean], ['quarantined', counts.quarantined], ['rejected', counts.rejected], ['failed', counts.failed]]
  const w = Math.max(...rows.map(([k]) => k.length))
  for (const [k, n] of rows) lines.push(`  ${k.padEnd(w)}  ${n}`)
  problems.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  for (const status of ['quarantined', 'rejected', 'failed'] as const) {
    const list = problems.filter((p) => p.status === status)
    if (list.length === 0) continue
    const title = status === 'quarantined' ? `Quarantined (${list.length}; see ${join(outArg, 'quarantine')}):` : status === 'rejected' ? `Rejected (${list.length}):` : `Failed (${list.length}):`
    lines.push('', title)
    for (const p of list.slice(0, MAX_LISTED)) lines.push(`  ${p.path}`, `    ${p.status}: ${p.reason}`)
    if (list.length > MAX_LISTED) lines.push(`  … and ${list.length - MAX_LISTED} more`)
  }
  process.stdout.write(lines.join('\n') + '\n')
  return counts.quarantined + counts.rejected + counts.failed > 0 ? 1 : 0
}

