/**
 * @module Worker threads running TypeScript through tsx, as the rest of Kura does (no build step): the boot code
 * registers tsx in the new thread, then loads the worker module.
 */
import { Worker } from 'node:worker_threads'

const TSX_API = import.meta.resolve('tsx/esm/api')

/** A worker thread running the TypeScript module at `url` with `workerData`. */
export function tsxWorker(url: URL, workerData: unknown): Worker {
  const boot = `import(${JSON.stringify(TSX_API)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}) })`
  return new Worker(boot, { eval: true, workerData })
}
