/**
 * @module Micro-benchmark of the gateway's watched-folder source alone: N small CT files (bench gateway's corpus,
 * 128², ≈ 33 KB) dropped into a folder, then one scan of a FolderSource with settle 0 takes them all into a fresh
 * spool (copy, fsync, sidecar, rename, folder fsync, outbox row: as it does for a scanner's export). Prints files/s
 * and the process's CPU per file (all threads). No anchor tool: the DICOM source (`bench gateway`) is the figure to
 * compare with. Run under `node --cpu-prof --import tsx` to see where the time goes.
 *
 *   npx tsx bench/lib/folder-micro.ts [--files N] [--rounds R]
 */
import { cpSync, mkdirSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { Outbox } from '../../packages/gateway/src/outbox/index.ts'
import { FolderSource } from '../../packages/gateway/src/sources/folder/folder-source.ts'
import { smallCorpus } from '../dimse-receive.ts'

const args = process.argv.slice(2)
const opt = (name: string, d: string): number => {
  const i = args.indexOf(name)
  return Number(i >= 0 ? args[i + 1]! : d)
}
const n = opt('--files', '2000')
const rounds = opt('--rounds', '2')

const corpus = await smallCorpus(Math.max(n, 1000), 128)
const files: string[] = []
const walk = (d: string): void => {
  for (const e of readdirSync(d, { withFileTypes: true })) {
    if (e.isDirectory()) walk(join(d, e.name))
    else if (e.name.endsWith('.dcm')) files.push(join(d, e.name))
  }
}
walk(corpus)
const root = '/tmp/kura-bench-folder-micro'
for (let r = 1; r <= rounds; r++) {
  rmSync(root, { recursive: true, force: true })
  mkdirSync(join(root, 'drop'), { recursive: true })
  for (const [i, f] of files.slice(0, n).entries()) cpSync(f, join(root, 'drop', `${i}.dcm`))
  const outbox = Outbox.open(join(root, 'spool'))
  outbox.recover()
  const source = new FolderSource({ path: join(root, 'drop'), settleSeconds: 0, deleteAfterTake: false }, outbox, { pollMs: 3_600_000 })
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await source.scan()
  const s = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  console.log(`round ${r}: ${n} files taken (${source.taken}) in ${s.toFixed(2)} s: ${(n / s).toFixed(0)} files/s, ${((cpu.user + cpu.system) / 1000 / n).toFixed(2)} ms CPU per file`)
  outbox.close()
}
rmSync(root, { recursive: true, force: true })
