/**
 * @module Bench: storeInstance throughput on each engine.
 *
 * Usage: npx tsx packages/storage/src/bench/store-throughput.ts [instances=3000] [callers=4] [engine…]
 * Callers store concurrently into studies of 10 series × 100 instances each (the realistic case:
 * most instances join an existing series); each caller works on its own studies, plus one run
 * where all callers share one study, the worst case for row-lock contention on PostgreSQL.
 * Records carry ~4 KB of instance JSON like real ones.
 */
import { newDicomUid } from '@kura/core'
import { storeInstance } from '../catalog/store-instance.ts'
import { openTestCatalog, testEngines, testInstanceRecord } from '../testing/index.ts'
import type { CatalogEngine } from '../catalog/connect.ts'

const total = Number(process.argv[2] ?? 3000)
const callers = Number(process.argv[3] ?? 4)
const engines = (process.argv.slice(4) as CatalogEngine[]).length ? (process.argv.slice(4) as CatalogEngine[]) : testEngines()
const padding = 'x'.repeat(4000)

async function run(engine: CatalogEngine, shared: boolean): Promise<number> {
  const tc = await openTestCatalog(engine)
  try {
    const perCaller = Math.ceil(total / callers)
    const sharedStudy = newDicomUid()
    const work = async (c: number) => {
      let study = shared ? sharedStudy : newDicomUid()
      for (let i = 0; i < perCaller; i++) {
        if (!shared && i > 0 && i % 1000 === 0) study = newDicomUid()
        const series = `${study}.${shared ? (i % 10) * callers + c : Math.floor((i % 1000) / 100)}`
        const sop = newDicomUid()
        const out = await storeInstance(
          tc.catalog.db,
          testInstanceRecord({
            studyInstanceUid: study,
            seriesInstanceUid: series,
            sopInstanceUid: sop,
            instanceNumber: i,
            instanceJson: JSON.stringify({ '00080018': { vr: 'UI', Value: [sop] }, pad: padding }),
          }),
        )
        if (out.status !== 'stored') throw new Error(`unexpected ${out.status}`)
      }
    }
    const t0 = performance.now()
    await Promise.all(Array.from({ length: callers }, (_, c) => work(c)))
    const seconds = (performance.now() - t0) / 1000
    return (perCaller * callers) / seconds
  } finally {
    await tc.cleanup()
  }
}

for (const engine of engines) {
  for (const shared of [false, true]) {
    const rate = await run(engine, shared)
    console.log(`${engine.padEnd(8)} ${callers} callers, ${shared ? 'one shared study ' : 'separate studies'}: ${Math.round(rate)} instances/s`)
  }
}
