/**
 * @module `kura deid`: de-identify DICOM files and folders into an output folder, verifying every
 * output against the identifiers of its source before it reaches the clean tree.
 *
 * Each input is parsed, rewritten by @kura/deid into `<out>/.tmp/`, re-read (text values loaded,
 * pixel data never) and scanned for the source's identifiers. Clean → `<out>/<relative path>`;
 * findings → `<out>/quarantine/<relative path>` with `<file>.reason.json` (reasons only, never values).
 * Nothing that failed verification or errored is ever left in the clean tree.
 *
 * A large folder also runs on worker threads (deid-worker.ts; one thread per core in all): they parse, rewrite,
 * write and verify as this thread does; this thread alone writes the re-identification table (before it moves the output: every pseudonym that leaves is
 * recorded first) and moves outputs into place, so no two threads ever touch the table or one output path.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { mkdir, rmdir, stat } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { basename, dirname, join, relative, resolve, sep } from 'node:path'
import { Worker } from 'node:worker_threads'
import { errorText, isKuraError } from '@kura/core'
import { UsageError, intFlag, parseFlags } from '../args.ts'
import { Progress, formatBytes, formatDuration } from '../progress.ts'
import { walk } from '../walk.ts'
import { lookupHelp, runLookup } from './deid-lookup.ts'
import type { DeidWorkerData, WorkerReply } from './deid-worker.ts'

/** Workers run TypeScript through tsx, as the rest of Kura does (no build step): register it, then load the worker. */
const WORKER_BOOT = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(new URL('./deid-worker.ts', import.meta.url).href)}) })`

/**
 * Below this many files this thread does them alone: a worker's start (its own module loading, ~0.7 s of CPU) costs
 * more than it saves, and this thread would have finished before it.
 */
const MIN_FILES_FOR_THREADS = 2000

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
  --threads N         Threads de-identifying, this one included (default: one per core for 2,000
                      files or more, else 1).
  --concurrency N     Files in flight at once, over all threads (default 4).
  --help              Show this help.

kura deid lookup:
${lookupHelp.slice(lookupHelp.indexOf('Looks up')).replace('Options:', 'Lookup options:')}`

const MAX_LISTED = 20

interface Problem {
  path: string
  status: 'quarantined' | 'rejected' | 'failed'
  reason: string
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
    threads: { type: 'string' },
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
  const threadsFlag = values.threads === undefined ? undefined : intFlag('deid', 'threads', values.threads, 0, 0, 64)
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

  type Outcome =
    | { kind: 'clean'; tmp: string }
    | { kind: 'quarantined'; tmp: string; findings: Array<{ path: string; keyword?: string; kind: string; reason: string }> }
    | { kind: 'unreadable' | 'failed' | 'error'; reason: string }

  // Folders made this run: one mkdir per output folder, not per file.
  const made = new Set<string>()
  const mkdirOnce = (d: string) => {
    if (made.has(d)) return
    mkdirSync(d, { recursive: true })
    made.add(d)
  }

  /** Moves one outcome into the clean tree or quarantine (synchronous: a few file calls, never a wait in between). */
  const place = (file: { path: string; size: number }, o: Outcome): void => {
    try {
      if (o.kind !== 'clean' && o.kind !== 'quarantined') {
        const rejected = o.kind === 'unreadable'
        counts[rejected ? 'rejected' : 'failed']++
        problems.push({ path: file.path, status: rejected ? 'rejected' : 'failed', reason: o.reason })
      } else {
        const rel = safeRelative(relative(base, resolve(file.path))) || basename(file.path)
        const cleanPath = join(outRoot, rel)
        const qPath = join(quarantineRoot, rel)
        try {
          if (o.kind === 'clean') {
            rmSync(qPath, { force: true })
            rmSync(`${qPath}.reason.json`, { force: true })
            mkdirOnce(dirname(cleanPath))
            renameSync(o.tmp, cleanPath)
            counts.clean++
          } else {
            rmSync(cleanPath, { force: true })
            mkdirOnce(dirname(qPath))
            renameSync(o.tmp, qPath)
            const report = { file: rel, policy: { id: policy.id, version: policy.version }, collection, findings: o.findings.map((f) => ({ path: f.path, keyword: f.keyword, kind: f.kind, reason: f.reason })) }
            writeFileSync(`${qPath}.reason.json`, JSON.stringify(report, null, 2) + '\n', { mode: 0o600 })
            counts.quarantined++
            problems.push({ path: file.path, status: 'quarantined', reason: o.findings.map((f) => f.reason).join('; ') })
          }
        } catch (e) {
          rmSync(o.tmp, { force: true })
          throw e
        }
      }
    } catch (e) {
      counts.failed++
      problems.push({ path: file.path, status: 'failed', reason: errorText(e) })
    }
    doneFiles++
    doneBytes += file.size
    progress.update(doneFiles, doneBytes)
  }

  // Files are taken from one counter shared by this thread and the workers; `answered` marks those with an outcome.
  const next = new Int32Array(new SharedArrayBuffer(4))
  const answered = new Uint8Array(files.length)

  /** Files done in this thread, `loops` at once, each recorded in the table by deidentifyFile itself. */
  const runHere = async (loops: number, yieldEvery: number): Promise<void> => {
    const loop = async () => {
      for (let i = Atomics.add(next, 0, 1), k = 1; i < files.length; i = Atomics.add(next, 0, 1), k++) {
        // A small file never waits on anything: let the workers' outcomes in (their moves, the progress) now and then.
        if (k % yieldEvery === 0) await new Promise((r) => setImmediate(r))
        const file = files[i]!
        const tmp = join(tmpDir, `${randomBytes(8).toString('hex')}.dcm`)
        let o: Outcome
        try {
          const r = await deid.deidentifyFile(file.path, tmp, { policy, secret, collection, reid })
          o = r.kind === 'clean' ? { kind: 'clean', tmp } : r.kind === 'quarantined' ? { kind: 'quarantined', tmp, findings: r.findings } : r
        } catch (e) {
          rmSync(tmp, { force: true })
          o = { kind: 'error', reason: errorText(e) }
        }
        answered[i] = 1
        place(file, o)
      }
    }
    await Promise.all(Array.from({ length: Math.min(loops, files.length) }, loop))
  }

  /**
   * This thread and `n` worker threads take files from the shared counter; this thread starts at once, the workers
   * as soon as they have loaded (about 0.7 s of CPU each). Each worker outcome comes back here, where its pseudonyms
   * are recorded (before the output moves) and the output is placed. A worker that has not taken a file when the
   * last one is taken is cancelled (an atomic handshake, so none is lost); a file whose worker died counts as failed.
   */
  const runThreaded = async (n: number): Promise<void> => {
    const state = new Int32Array(new SharedArrayBuffer(4 * n))
    const data: Omit<DeidWorkerData, 'slot'> = {
      policy, secret, collection, tmpDir, reid: reid !== undefined, files: files.map((f) => f.path), next, state,
      inFlight: Math.max(1, Math.ceil(concurrency / (n + 1))),
    }
    let stopped = ''
    const onReply = (m: Exclude<WorkerReply, { done: true }>): void => {
      answered[m.i] = 1
      const file = files[m.i]!
      if ((m.kind === 'clean' || m.kind === 'quarantined') && m.record && reid) {
        try {
          deid.recordDeidentified(reid, m.record.source, m.record.report, collection)
        } catch (e) {
          rmSync(m.tmp, { force: true })
          place(file, { kind: 'error', reason: `the re-identification table could not record it: ${errorText(e)}` })
          return
        }
      }
      place(file, m)
    }
    const workers: Worker[] = []
    const finished = Array.from({ length: n }, (_, slot) => new Promise<void>((done) => {
      const w = new Worker(WORKER_BOOT, { eval: true, workerData: { ...data, slot } satisfies DeidWorkerData })
      workers.push(w)
      w.on('message', (m: WorkerReply) => ('done' in m ? done() : onReply(m)))
      w.on('error', (e) => (stopped = e.message))
      w.on('exit', () => done())
    }))
    // KURA_DEID_WORKERS_ONLY=1 leaves every file to the workers (the tests use it to exercise them on a few files).
    if (process.env.KURA_DEID_WORKERS_ONLY !== '1') await runHere(Math.max(1, Math.ceil(concurrency / (n + 1))), 8)
    else await Promise.all(finished)
    // Every file is taken: a worker still loading (state 0 → 2 here, never 0 → 1 there) has none and is stopped.
    for (let slot = 0; slot < n; slot++) if (Atomics.compareExchange(state, slot, 0, 2) === 0) void workers[slot]!.terminate()
    await Promise.all(finished)
    for (let i = 0; i < files.length; i++) {
      if (!answered[i]) place(files[i]!, { kind: 'error', reason: `a worker thread stopped: ${stopped || 'no reason given'}` })
    }
  }

  // --threads counts this thread: N - 1 workers beside it.
  const threads = Math.min(threadsFlag ?? (files.length >= MIN_FILES_FOR_THREADS ? availableParallelism() : 1), files.length)
  try {
    if (threads > 1) await runThreaded(threads - 1)
    else await runHere(concurrency, Number.MAX_SAFE_INTEGER)
  } finally {
    progress.done()
    reid?.close()
    await rmdir(tmpDir).catch(() => {})
  }

  const elapsed = progress.elapsedMs
  const secs = Math.max(0.001, elapsed / 1000)
  const lines = [`De-identified into ${outArg} (policy ${policy.id} ${policy.version}, collection "${collection}"): ${files.length} file${files.length === 1 ? '' : 's'} (${formatBytes(totalBytes)}) in ${formatDuration(elapsed)}, ${(files.length / secs).toFixed(1)} files/s${threads > 1 ? ` on ${threads} threads` : ''}`]
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

