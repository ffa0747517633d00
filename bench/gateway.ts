/**
 * @module The site gateway end to end against Orthanc's C-STORE SCP, same corpus, same run.
 *
 * DCMTK storescu (TCP_NODELAY=1) sends N small CT instances, over one association and over several in parallel
 * (one storescu per slice of the corpus), to (a) Orthanc's C-STORE SCP as shipped and (b) Kura's DICOM source
 * alone (C-STORE SCP into the spool; every object durable before its response). Then (c) the whole path: a
 * `kura gateway` process (receive → de-identify → verify → upload) in front of a `kura hub` on the embedded
 * defaults, timed from the first byte until the hub's catalog holds every instance; the gateway's RSS is sampled
 * throughout. Sides run one after the other, never together, so they do not compete for the CPU.
 *
 * Every receiver (Orthanc too) first takes a warm-up study (`--warmup`, another study's 200 instances by default),
 * not timed: the figures are those of a service that has been running, as a gateway runs for years. A fresh Node
 * process compiles its hot code while the first objects arrive (at 1,000 instances that was a third of the gateway's
 * CPU); `--warmup 0` measures that cold start.
 *
 *   npx kura bench gateway --help
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, linkSync, mkdirSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { openCatalog } from '@kura/storage'
import { writeSecretFile } from '@kura/deid'
import { countFiles, emptyFiles, hasStorescu, smallCorpus, startKura as startKuraScp, startOrthancScp, storescu } from './dimse-receive.ts'
import { startKura as startHub, KURA_BIN, KURA_NODE_FLAGS, REPO_ROOT } from './lib/kura.ts'
import { fmt, freePort, loud, machineLine, mb, median, nowMs, num, parseFlags, printTable, range, ratio, readCpuSeconds, runIfMain, sampleRss, sleep } from './lib/util.ts'

const USAGE = `
kura bench gateway — the site gateway vs Orthanc's C-STORE SCP: receive rate (one and several associations),
then receive → de-identify → upload → hub indexed, against Orthanc's receive alone

  npx kura bench gateway [options]

Needs DCMTK (apt-get install dcmtk) and Orthanc (apt-get install orthanc). Targets (issue 4): receive ≥ 2× Orthanc;
the whole path ≥ 1× Orthanc's receive; the gateway's memory flat.`

/** The files of `corpus` split into `k` folders of hard links (storescu +sd sends a folder), made once. */
function slices(corpus: string, k: number): string[] {
  const root = `${corpus}-slices${k}`
  const dirs = Array.from({ length: k }, (_, i) => join(root, String(i)))
  if (existsSync(join(root, '.done'))) return dirs
  rmSync(root, { recursive: true, force: true })
  for (const d of dirs) mkdirSync(d, { recursive: true })
  const files: string[] = []
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) { if (!e.name.startsWith('.')) walk(join(d, e.name)) } else if (e.name.endsWith('.dcm')) files.push(join(d, e.name))
    }
  }
  walk(corpus)
  files.sort().forEach((f, i) => linkSync(f, join(dirs[i % k]!, `${i}.dcm`)))
  mkdirSync(join(root, '.done'))
  return dirs
}

/** Sends every slice at once, one storescu (one association) per slice; seconds until the last one exits. */
async function sendAll(port: number, dirs: string[]): Promise<{ seconds: number; failed: string | null }> {
  const t0 = nowMs()
  const rs = await Promise.all(dirs.map((d) => storescu(port, ['+sd', '+r', d])))
  const bad = rs.find((r) => r.code !== 0)
  return { seconds: (nowMs() - t0) / 1000, failed: bad ? `storescu exit ${bad.code}: ${bad.output.slice(-300)}` : null }
}

interface Receive { rate: number; rssMb: number; cpuMs: number; ok: boolean; note: string }

/** A study sent (one association) before the timed one and not counted: `dir` and its instance count, or none. */
interface Warmup { dir: string; count: number }

/** One receive measurement on a fresh receiver (Kura's DICOM source or Orthanc's SCP), after the warm-up study. */
async function receive(side: 'kura' | 'orthanc', dirs: string[], expected: number, root: string, warm: Warmup | null): Promise<Receive> {
  const dir = join(root, `kura-bench-gateway-${side}`)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const { port, proc } = side === 'kura' ? await startKuraScp(dir) : await startOrthancScp(dir)
  try {
    const stored = () => countFiles(side === 'orthanc' ? join(dir, 'storage') : dir)
    if (warm) {
      const w = await sendAll(port, [warm.dir])
      if (w.failed) throw new Error(`the warm-up study failed: ${w.failed}`)
    }
    const rss = sampleRss(proc.pid!, 100)
    const cpu0 = readCpuSeconds(proc.pid!)
    const r = await sendAll(port, dirs)
    const cpuMs = ((readCpuSeconds(proc.pid!) - cpu0) * 1000) / expected
    const mem = rss.stop()
    const got = stored() - (warm?.count ?? 0)
    const ok = r.failed === null && got === expected
    return { rate: expected / r.seconds, rssMb: mb(mem.hwm), cpuMs, ok, note: ok ? '' : `${r.failed ?? ''} ${got}/${expected} stored` }
  } finally {
    proc.kill('SIGTERM')
    await new Promise((res) => proc.once('exit', res))
    if (side === 'kura') emptyFiles(dir)
    rmSync(dir, { recursive: true, force: true })
  }
}

interface WholePath { receiveRate: number; rate: number; gatewayCpuMs: number; hubCpuMs: number; rssFirstMb: number; rssMaxMb: number; rssLastMb: number; ok: boolean; note: string }

/**
 * `kura gateway` (a child process, its DICOM source on a free port) in front of a fresh `kura hub`; the warm-up study
 * goes the whole way (the hub holds it) before the timed one is sent.
 */
async function wholePath(dirs: string[], expected: number, root: string, warm: Warmup | null): Promise<WholePath> {
  // KURA_BENCH_HUB_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the hub alone.
  const hub = await startHub({ nodeArgs: (process.env.KURA_BENCH_HUB_NODE_ARGS ?? '').split(' ').filter(Boolean) })
  const dir = join(root, 'kura-bench-gateway-site')
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  let gw: ChildProcess | null = null
  try {
    writeFileSync(join(dir, 'token'), hub.headers.authorization!.replace(/^Bearer /, ''))
    writeSecretFile(join(dir, 'secret.key'))
    const dicomPort = await freePort()
    writeFileSync(join(dir, 'gateway.yaml'), `site: bench
hub: { url: "${hub.url}", tokenFile: token }
collection: bench-gateway
deid: { policy: basic, secretFile: secret.key }
spool: spool
sources: { dicom: { aeTitle: KURA, port: ${dicomPort}, host: 127.0.0.1 } }
limits: { minFreeDiskBytes: 0 }
status: { port: 0 }
`)
    // KURA_BENCH_GATEWAY_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the gateway alone.
    const nodeArgs = (process.env.KURA_BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean)
    const child = spawn(process.execPath, [...KURA_NODE_FLAGS, ...nodeArgs, KURA_BIN, 'gateway', '--config', join(dir, 'gateway.yaml')], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, KURA_LOG_LEVEL: 'warn' } })
    gw = child
    const statusUrl = await new Promise<string>((resolve, reject) => {
      let out = ''
      // KURA_BENCH_GATEWAY_STDOUT=FILE keeps what the gateway prints (e.g. with --trace-opt in the node args).
      const keep = process.env.KURA_BENCH_GATEWAY_STDOUT ? createWriteStream(process.env.KURA_BENCH_GATEWAY_STDOUT) : null
      child.stdout!.on('data', (d: Buffer) => {
        keep?.write(d)
        out = (out + d.toString()).slice(-4096)
        const m = /status on (http:\/\/\S+\/status)/.exec(out)
        if (m) resolve(m[1]!)
      })
      child.once('exit', (c) => reject(new Error(`kura gateway exited (${c}) before it started: ${out}`)))
    })
    // Objects the gateway quarantines (or the hub refuses) never reach the catalog: the wait counts them as settled.
    const setAside = async (): Promise<number> => {
      const st = (await (await fetch(statusUrl)).json()) as { totals: Record<string, { count: number }> }
      return (st.totals.quarantined?.count ?? 0) + (st.totals.failed?.count ?? 0)
    }
    const catalog = await openCatalog(`sqlite:${join(hub.dir, 'data', 'catalog.sqlite')}`)
    try {
      const indexed = async () => Number((await catalog.db.selectFrom('instance').select((e) => e.fn.countAll().as('n')).executeTakeFirst())?.n ?? 0)
      if (warm) {
        const w = await sendAll(dicomPort, [warm.dir])
        if (w.failed) throw new Error(`the warm-up study failed: ${w.failed}`)
        const until = nowMs() + 300_000
        while ((await indexed()) < warm.count && nowMs() < until && child.exitCode === null) await sleep(50)
      }
      const before = warm ? await indexed() : 0
      const asideBefore = warm ? await setAside() : 0
      const count = async () => (await indexed()) - before
      const rss = sampleRss(child.pid!, 200)
      const cpu0 = [readCpuSeconds(child.pid!), readCpuSeconds(hub.pid)]
      // KURA_BENCH_GATEWAY_ATTACH / KURA_BENCH_HUB_ATTACH, e.g. "strace -f -c -o /tmp/gw-{n}.txt -p {pid}": a tool
      // attached to the gateway / hub over the run ({n}: associations), stopped with SIGINT once the hub holds all.
      const tracers = ([['KURA_BENCH_GATEWAY_ATTACH', child.pid!], ['KURA_BENCH_HUB_ATTACH', hub.pid]] as const).flatMap(([k, pid]) => {
        const a = process.env[k]?.replaceAll('{pid}', String(pid)).replaceAll('{n}', String(dirs.length)).split(' ').filter(Boolean)
        return a?.length ? [spawn(a[0]!, a.slice(1), { stdio: 'ignore' })] : []
      })
      if (tracers.length) await sleep(1000)
      const t0 = nowMs()
      const sent = await sendAll(dicomPort, dirs)
      const deadline = nowMs() + 600_000
      let held = await count()
      let aside = 0
      while (held + aside < expected && nowMs() < deadline && child.exitCode === null) {
        await sleep(50)
        held = await count()
        if (held + aside < expected) aside = (await setAside()) - asideBefore
      }
      const seconds = (nowMs() - t0) / 1000
      for (const t of tracers) { t.kill('SIGINT'); await new Promise((res) => t.once('exit', res)) }
      const cpu = [readCpuSeconds(child.pid!) - cpu0[0]!, readCpuSeconds(hub.pid) - cpu0[1]!].map((x) => (x * 1000) / expected)
      const mem = rss.stop()
      const ok = sent.failed === null && held === expected
      return {
        receiveRate: expected / sent.seconds,
        rate: expected / seconds,
        gatewayCpuMs: cpu[0]!,
        hubCpuMs: cpu[1]!,
        rssFirstMb: mb(mem.first),
        rssMaxMb: mb(mem.max),
        rssLastMb: mb(mem.last),
        ok,
        note: ok ? '' : `${sent.failed ?? ''} hub holds ${held}/${expected}${aside ? `, ${aside} quarantined or refused on the way (gateway status)` : ''}`,
      }
    } finally {
      await catalog.close()
    }
  } finally {
    if (gw && gw.exitCode === null) {
      gw.kill('SIGTERM')
      await new Promise((res) => gw!.once('exit', res))
    }
    await hub.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}


export async function run(argv: string[]): Promise<void> {
  const f = await parseFlags(argv, USAGE, {
    instances: { type: 'string', default: '1000', help: 'small CT instances in the corpus' },
    size: { type: 'string', default: '128', help: 'CT rows and columns' },
    associations: { type: 'string', default: '4', help: 'parallel storescu (associations) in the second receive run' },
    reps: { type: 'string', default: '1', help: 'rounds; each round runs every side once, interleaved (the range is reported)' },
    'receive-only': { type: 'boolean', default: false, help: 'skip the whole path (receive → de-identify → upload → hub indexed)' },
    'whole-only': { type: 'boolean', default: false, help: 'skip the receive-alone sides (Orthanc and Kura\'s DICOM source): only the whole path' },
    'one-association': { type: 'boolean', default: false, help: 'only the one-association mode' },
    root: { type: 'string', default: '/tmp', help: 'where the receivers write' },
    warmup: { type: 'string', default: '200', help: 'instances of another study each receiver takes first, not timed (a service that has been running; 0: a cold start)' },
  })
  if (!f) return
  const instances = num(f.instances, 'instances'), size = num(f.size, 'size'), assocs = num(f.associations, 'associations'), reps = num(f.reps, 'reps')
  const root = String(f.root)
  console.log(await machineLine())
  if (!hasStorescu()) return
  const corpus = await smallCorpus(instances, size)
  const n = countFiles(corpus)
  const warmCount = num(f.warmup, 'warmup')
  const warmDir = warmCount > 0 ? await smallCorpus(warmCount, size, 8) : null
  const warm = warmDir ? { dir: warmDir, count: countFiles(warmDir) } : null
  const modes = [{ name: '1 association', dirs: [corpus] }, ...(f['one-association'] ? [] : [{ name: `${assocs} associations`, dirs: slices(corpus, assocs) }])]
  console.log(`corpus: ${n} CT ${size}×${size} instances (${corpus})${warm ? `; first, not timed, a warm-up study of ${warm.count} (${warm.dir})` : '; no warm-up (cold start)'}`)

  const rec = new Map<string, { rates: number[]; rss: number[]; cpu: number[]; loads: number[]; bad: string[] }>()
  const cell = (k: string) => { if (!rec.has(k)) rec.set(k, { rates: [], rss: [], cpu: [], loads: [], bad: [] }); return rec.get(k)! }
  const whole: WholePath[] = []
  const wholeLoads: number[] = []
  for (let rep = 0; rep < reps; rep++) {
    for (const m of f['whole-only'] ? [] : modes) {
      for (const side of ['orthanc', 'kura'] as const) {
        const c = cell(`${side}|${m.name}`)
        c.loads.push(loadavg()[0]!)
        const r = await receive(side, m.dirs, n, root, warm)
        c.rates.push(r.rate)
        c.rss.push(r.rssMb)
        c.cpu.push(r.cpuMs)
        if (!r.ok) c.bad.push(r.note)
        console.log(`round ${rep + 1} ${side}, ${m.name}: ${fmt(r.rate)} inst/s, ${fmt(r.cpuMs, 2)} ms CPU/instance, peak RSS ${fmt(r.rssMb, 0)} MB (load ${c.loads.at(-1)!.toFixed(2)})${r.ok ? '' : ` NOT OK: ${r.note}`}`)
      }
    }
    if (!f['receive-only']) {
      for (const m of modes) {
        wholeLoads.push(loadavg()[0]!)
        const w = await wholePath(m.dirs, n, root, warm)
        whole.push(w)
        console.log(`round ${rep + 1} whole path, ${m.name}: ${fmt(w.rate)} inst/s to indexed (gateway receive ${fmt(w.receiveRate)} inst/s), CPU ${w.gatewayCpuMs.toFixed(2)} + ${w.hubCpuMs.toFixed(2)} ms/instance (gateway + hub), gateway RSS ${fmt(w.rssFirstMb, 0)} → max ${fmt(w.rssMaxMb, 0)} → ${fmt(w.rssLastMb, 0)} MB (load ${wholeLoads.at(-1)!.toFixed(2)})${w.ok ? '' : ` NOT OK: ${w.note}`}`)
      }
    }
  }

  const rows = [['receiver', 'associations', 'inst/s', 'CPU ms/inst', 'peak RSS MB', 'load avg', 'ok']]
  for (const m of modes) {
    for (const side of ['orthanc', 'kura']) {
      const c = cell(`${side}|${m.name}`)
      rows.push([side === 'kura' ? 'Kura DICOM source (spool, durable)' : 'Orthanc C-STORE SCP', m.name, range(c.rates), c.cpu.map((x) => x.toFixed(2)).join(', '), range(c.rss), range(c.loads), c.bad.length ? `NO ${c.bad[0]}` : 'yes'])
    }
  }
  printTable(rows, `C-STORE receive: ${n} × CT ${size}² (storescu, TCP_NODELAY=1; ${reps} round(s), min–max)`)
  for (const m of modes) {
    const k = cell(`kura|${m.name}`).rates, o = cell(`orthanc|${m.name}`).rates
    console.log(`kura / orthanc receive, ${m.name}: ${ratio(median(k), median(o))} (per round ${k.map((x, i) => (x / o[i]!).toFixed(2)).join(', ')}; target ≥ 2)`)
  }
  if (whole.length > 0) {
    const wrows = [['associations', 'inst/s to indexed', 'gateway receive inst/s', 'CPU ms/inst gateway + hub', 'gateway RSS MB first → max → last', 'load avg', 'ok']]
    whole.forEach((w, i) => wrows.push([modes[i % modes.length]!.name, fmt(w.rate), fmt(w.receiveRate), `${w.gatewayCpuMs.toFixed(2)} + ${w.hubCpuMs.toFixed(2)}`, `${fmt(w.rssFirstMb, 0)} → ${fmt(w.rssMaxMb, 0)} → ${fmt(w.rssLastMb, 0)}`, wholeLoads[i]!.toFixed(2), w.ok ? 'yes' : `NO ${w.note}`]))
    printTable(wrows, 'Whole path: storescu → kura gateway (receive, de-identify, verify, upload) → kura hub (SQLite, indexed)')
    for (const [i, m] of modes.entries()) {
      const w = whole.filter((_, j) => j % modes.length === i).map((x) => x.rate)
      const o = cell(`orthanc|${m.name}`).rates
      console.log(`whole path / orthanc receive, ${m.name}: ${ratio(median(w), median(o))} (target ≥ 1)`)
    }
  }
  console.log('note: Kura acknowledges each object only once it is durable (a small one appended to the spool journal and fdatasynced, group-committed); Orthanc writes through its SQLite index as shipped.')
}

runIfMain(import.meta.url, run)
