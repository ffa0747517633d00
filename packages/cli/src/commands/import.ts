/**
 * @module `kura import`: store DICOM files and folders in a collection, straight into the
 * archive under --data, or to a running hub over STOW-RS with --url.
 */
import { FileSource, loadHubConfig } from '@kura/core'
import { UsageError, intFlag, parseFlags, urlFlag } from '../args.ts'
import { localSink, runIngest, stowSink, type Item, type Sink } from '../ingest.ts'
import { Progress } from '../progress.ts'
import { formatSummary } from '../summary.ts'
import { walk } from '../walk.ts'

export const help = `Usage: kura import <file|folder>... --collection NAME [--data DIR | --url URL]

Stores DICOM Part 10 files in a collection. Folders are walked recursively (hidden files and
DICOMDIR are skipped). Each object is verified and indexed; one already stored with the same
bytes counts as a duplicate, one with the same SOP Instance UID but other bytes as a conflict
(never overwritten). Exit code 0 when everything was stored or already there, 1 otherwise.

Options:
  --collection NAME  Collection to store into (e.g. jmid-demo). Required.
  --data DIR         Data folder of the hub to write into directly (default ./data, or KURA_DATA_DIR;
                     KURA_DATABASE_URL / KURA_S3_* select shared backends as for "kura hub").
  --url URL          Send to a running hub over STOW-RS instead, e.g. http://127.0.0.1:8080
                     (KURA_TOKEN, when set, is sent as a bearer token).
  --concurrency N    Objects (or STOW requests) in flight at once (default 4).
  --batch N          Files per STOW-RS request with --url (default 20).
  --help             Show this help.
`

/** The SOP Instance UID of a file, to match a STOW failure to it (read only when a batch had failures). */
async function sopInstanceUidOf(item: Item): Promise<string | undefined> {
  if (!item.path) return undefined
  const { readDicom } = await import('@kura/dicom')
  const src = await FileSource.open(item.path)
  try {
    const parsed = await readDicom(src, { untilTag: 0x00080019 })
    const bytes = parsed.dataset.elements.get(0x00080018)?.bytes ?? parsed.meta.elements.get(0x00020003)?.bytes
    return bytes ? Buffer.from(bytes).toString('latin1').replace(/[\0 ]+$/, '') : undefined
  } finally {
    await src.close()
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags('import', argv, {
    collection: { type: 'string', short: 'c' },
    data: { type: 'string' },
    url: { type: 'string' },
    concurrency: { type: 'string' },
    batch: { type: 'string' },
  }, true)
  if (positionals.length === 0) throw new UsageError('Give at least one file or folder to import. Run "kura import --help".')
  if (!values.collection) throw new UsageError('--collection is required: name the collection to store into, e.g. --collection jmid-demo.')
  if (values.url && values.data) throw new UsageError('Give --data (write directly) or --url (send to a running hub), not both.')
  const concurrency = intFlag('import', 'concurrency', values.concurrency, 4, 1, 64)
  const batchSize = intFlag('import', 'batch', values.batch, 20, 1, 1000)
  if (values.batch !== undefined && !values.url) throw new UsageError('--batch applies to STOW-RS uploads; use it with --url.')
  const url = values.url ? urlFlag('import', values.url) : undefined

  const found = await walk(positionals)
  if (found.skipped.length > 0) process.stderr.write(`Skipping ${found.skipped.length} hidden or DICOMDIR file(s).\n`)
  if (found.files.length === 0) {
    process.stdout.write('No files to import.\n')
    return 0
  }
  const totalBytes = found.files.reduce((n, f) => n + f.size, 0)
  const collection = values.collection
  const items: Item[] = found.files.map((f) => ({ label: f.path, path: f.path, size: f.size, collection }))

  const sink: Sink = url
    ? stowSink(url, { batchSize, token: process.env.KURA_TOKEN || undefined, sopInstanceUidOf })
    : await localSink(loadHubConfig({ data: values.data }))
  const progress = new Progress({ label: 'import', totalFiles: items.length, totalBytes })
  try {
    const summary = await runIngest(items, sink, { concurrency, onOutcome: (_o, s) => progress.update(s.files, s.bytes) })
    progress.done()
    process.stdout.write(formatSummary(summary, `Imported into "${collection}"${url ? ` at ${url}` : ''}`))
    return summary.counts.conflict + summary.counts.rejected > 0 ? 1 : 0
  } finally {
    progress.done()
    await sink.close()
  }
}
