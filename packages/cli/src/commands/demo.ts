/**
 * @module `kura demo`: fills a hub with a small synthetic corpus (radiology and endoscopy, in
 * two collections) so there is something to look at. The seed is fixed, so a second run
 * finds everything already stored and adds nothing.
 */
import { loadHubConfig } from '@kura/core'
import { UsageError, parseFlags, urlFlag } from '../args.ts'
import { localSink, runIngest, stowSink, type Item } from '../ingest.ts'
import { Progress } from '../progress.ts'
import { formatSummary } from '../summary.ts'

export const help = `Usage: kura demo [--data DIR | --url URL]

Adds a synthetic corpus to a hub: 6 studies of made-up Japanese patients, CT and MR in the
collection jmid-demo (radiology) and endoscopy in jed-demo (JPEG and native RGB). Running it
again adds nothing new (the corpus is the same every time; it counts as duplicates).

Options:
  --data DIR   Data folder of the hub to write into directly (default ./data, or KURA_DATA_DIR).
  --url URL    Send to a running hub over STOW-RS instead, e.g. http://127.0.0.1:8080.
  --help       Show this help.
`

/** The demo corpus: fixed, so the demo is idempotent. */
export const DEMO_CORPUS = {
  studies: 6,
  seriesPerStudy: 2,
  instancesPerSeries: 6,
  seed: 2024,
  modality: 'mixed',
  charset: 'mixed',
  esPixels: 'mixed',
} as const

export const DEMO_COLLECTIONS = { radiology: 'jmid-demo', endoscopy: 'jed-demo' } as const

interface StudyLine {
  collection: string
  modality: string
  patient: string
  patientId: string
  instances: number
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags('demo', argv, { data: { type: 'string' }, url: { type: 'string' } })
  if (values.url && values.data) throw new UsageError('Give --data (write directly) or --url (send to a running hub), not both.')
  const url = values.url ? urlFlag('demo', values.url) : undefined
  const config = url ? undefined : loadHubConfig({ data: values.data })

  const { synthStudiesAsync } = await import('@kura/dicom/synth')
  const studies = new Map<string, StudyLine>()
  async function* items(): AsyncGenerator<Item> {
    for await (const inst of synthStudiesAsync(DEMO_CORPUS)) {
      const collection = inst.modality === 'ES' ? DEMO_COLLECTIONS.endoscopy : DEMO_COLLECTIONS.radiology
      const line = studies.get(inst.studyInstanceUid) ?? { collection, modality: inst.modality, patient: `${inst.patientName.Ideographic} (${inst.patientName.Alphabetic})`, patientId: inst.patientId, instances: 0 }
      line.instances++
      studies.set(inst.studyInstanceUid, line)
      yield { label: `${collection}/${inst.path}`, collection, bytes: inst.bytes, size: inst.bytes.length, sopInstanceUid: inst.sopInstanceUid }
    }
  }
  const total = DEMO_CORPUS.studies * DEMO_CORPUS.seriesPerStudy * DEMO_CORPUS.instancesPerSeries
  const sink = url ? stowSink(url, { token: process.env.KURA_TOKEN || undefined }) : await localSink(config!)
  const progress = new Progress({ label: 'demo', totalFiles: total })
  let summary
  try {
    summary = await runIngest(items(), sink, { concurrency: 4, onOutcome: (_o, s) => progress.update(s.files, s.bytes) })
  } finally {
    progress.done()
    await sink.close()
  }

  const out: string[] = [formatSummary(summary, `Demo corpus (seed ${DEMO_CORPUS.seed}) into ${url ?? config!.dataDir}`).trimEnd(), '', 'Studies:']
  for (const [uid, s] of studies) out.push(`  ${s.collection.padEnd(10)} ${s.modality}  ${s.patientId}  ${s.patient}  ${s.instances} instances  ${uid}`)
  // A name search that finds something: the first patient's family name in kanji.
  const family = [...studies.values()][0]?.patient.split('^')[0] ?? '山田'
  const base = url ?? `http://${config!.host.includes(':') ? `[${config!.host}]` : config!.host}:${config!.port}`
  out.push('', 'Look at it:')
  if (!url) out.push(`  kura hub --data ${config!.dataDir}${config!.port !== 8080 ? ` --port ${config!.port}` : ''}`)
  out.push(
    `  ${base}/  (the web application: sign in, then Studies)`,
    '  With an API token (export KURA_TOKEN=$(npx kura token create --admin | tail -1)), e.g.',
    '  curl -H "Authorization: Bearer $KURA_TOKEN" <one of these>:',
    `  ${base}/dicomweb/studies`,
    `  ${base}/dicomweb/studies?collection=${DEMO_COLLECTIONS.radiology}`,
    `  ${base}/dicomweb/studies?collection=${DEMO_COLLECTIONS.endoscopy}&includefield=00081030`,
    `  ${base}/dicomweb/studies?PatientName=${encodeURIComponent(family + '*')}`,
  )
  process.stdout.write(out.join('\n') + '\n')
  return summary.counts.conflict + summary.counts.rejected > 0 ? 1 : 0
}
