/**
 * @module `kura import`: store DICOM files, slide files and DICOM WSI folders in a collection, straight
 * into the archive under --data, or to a running hub (STOW-RS, POST /slides) with --url. The ids of the
 * stored slides are printed last, one per line, for scripts.
 */
import { FileSource, loadHubConfig } from '@kura/core'
import { UsageError, intFlag, parseFlags, urlFlag } from '../args.ts'
import { localSink, runIngest, stowSink, type Item, type Sink } from '../ingest.ts'
import { Progress } from '../progress.ts'
import { formatSummary } from '../summary.ts'
import { walk } from '../walk.ts'
import { classify, formatSlideSummary, httpSlideSink, localSlideSink, type SlideOutcome, type SlideSink } from '../slides-import.ts'

export const help = `Usage: kura import <file|folder>... --collection NAME [--data DIR | --url URL]

Stores DICOM Part 10 files and whole-slide images in a collection. Folders are walked recursively
(hidden files and DICOMDIR are skipped). Each object is verified and indexed; one already stored
with the same bytes counts as a duplicate, one with the same SOP Instance UID but other bytes as a
conflict (never overwritten).

Slides are told apart by content: a slide file (Aperio SVS, Hamamatsu NDPI, tiled TIFF/BigTIFF)
is one slide; DICOM WSI instances (VL Whole Slide Microscopy Image) become one slide per series;
other DICOM files are stored as DICOM. After the summary, the id of each stored slide (or of the
slide already there with the same bytes) is printed on its own line, last.
Exit code 0 when everything was stored or already there, 1 otherwise.

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
  const collection = values.collection
  const { dicom, slides } = await classify(found.files)
  let failed = false
  if (dicom.length > 0) failed = (await importDicom(dicom, collection, url, values.data, concurrency, batchSize)) || failed
  if (slides.length > 0) {
    const sink: SlideSink = url ? httpSlideSink(url, collection, process.env.KURA_TOKEN || undefined) : await localSlideSink(loadHubConfig({ data: values.data }), collection)
    const outcomes: SlideOutcome[] = []
    try {
      // One at a time: a slide is large, and the hub spools each to disk before it answers.
      for (const [i, job] of slides.entries()) {
        process.stderr.write(`slide ${i + 1}/${slides.length}: ${job.label}\n`)
        outcomes.push(await sink.send(job))
      }
    } finally {
      await sink.close()
    }
    process.stdout.write(formatSlideSummary(outcomes, `Slides into "${collection}"${url ? ` at ${url}` : ''}`))
    if (outcomes.some((o) => o.status === 'failed')) failed = true
    // The contract scripts rely on: each stored slide's id on its own line, last.
    for (const o of outcomes) if (o.id) process.stdout.write(`${o.id}\n`)
  }
  return failed ? 1 : 0
}

/** DICOM objects, as `kura import` always sent them; true when something was not stored. */
async function importDicom(files: { path: string; size: number }[], collection: string, url: string | undefined, data: string | undefined, concurrency: number, batchSize: number): Promise<boolean> {
  const totalBytes = files.reduce((n, f) => n + f.size, 0)
  const items: Item[] = files.map((f) => ({ label: f.path, path: f.path, size: f.size, collection }))

  const sink: Sink = url
    ? stowSink(url, { batchSize, token: process.env.KURA_TOKEN || undefined, sopInstanceUidOf })
    : await localSink(loadHubConfig({ data }))
  const progress = new Progress({ label: 'import', totalFiles: items.length, totalBytes })
  try {
    const summary = await runIngest(items, sink, { concurrency, onOutcome: (_o, s) => progress.update(s.files, s.bytes) })
    progress.done()
    process.stdout.write(formatSummary(summary, `Imported into "${collection}"${url ? ` at ${url}` : ''}`))
    return summary.counts.conflict + summary.counts.rejected > 0
  } finally {
    progress.done()
    await sink.close()
  }
}
