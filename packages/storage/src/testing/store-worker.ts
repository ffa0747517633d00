/**
 * @module Child process for concurrency tests: "another hub" storing into the same catalog.
 *
 * argv: databaseUrl studyUid workerName ownCount sharedCount. Opens the catalog, prints
 * "ready", waits for "go" on stdin (so all workers start together), stores `ownCount`
 * instances of its own plus `sharedCount` identical to every other worker's, four at a time,
 * spread over three series, and prints a JSON tally of outcomes.
 */
import { createInterface } from 'node:readline'
import { openCatalog } from '../catalog/connect.ts'
import { storeInstance } from '../catalog/store-instance.ts'
import { testInstanceRecord } from './records.ts'

const [databaseUrl, study, worker, ownCount, sharedCount] = process.argv.slice(2)
const catalog = await openCatalog(databaseUrl!)
const modalities = ['CT', 'MR', 'SR']
const record = (sop: string, n: number) =>
  testInstanceRecord({
    studyInstanceUid: study,
    seriesInstanceUid: `${study}.${n % 3}`,
    modality: modalities[n % 3],
    seriesNumber: n % 3,
    sopInstanceUid: sop,
    instanceNumber: n,
  })
const records = [
  ...Array.from({ length: Number(ownCount) }, (_, i) => record(`${study}.${worker}.${i}`, i)),
  ...Array.from({ length: Number(sharedCount) }, (_, i) => record(`${study}.shared.${i}`, i)),
]
process.stdout.write('ready\n')
const lines = createInterface({ input: process.stdin })
for await (const line of lines) if (line.trim() === 'go') break
const tally: Record<string, number> = {}
for (let i = 0; i < records.length; i += 4) {
  const outcomes = await Promise.allSettled(records.slice(i, i + 4).map((r) => storeInstance(catalog.db, r)))
  for (const o of outcomes) {
    const key = o.status === 'fulfilled' ? o.value.status : `error: ${(o.reason as Error)?.message}`
    tally[key] = (tally[key] ?? 0) + 1
  }
}
await catalog.close()
process.stdout.write(JSON.stringify(tally) + '\n')
process.exit(0)
