/**
 * @module The whole gateway, started from its configuration: outbox (recovered first), pipeline, uploader,
 * sources (DICOM C-STORE SCP, watched folders, SS-MIX2 trees, vendor export folders) and the local status endpoint; stopped in the reverse order.
 */
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { KuraError, type Logger, silentLogger } from '@kura/core'
import { BASIC_POLICY, ReidTable, loadPolicy, loadSecret } from '@kura/deid'
import type { GatewayConfig } from './config/index.ts'
import { Outbox, type RecoveryReport } from './outbox/index.ts'
import { Pipeline, pooledRecordEngine, recordEngine } from './pipeline/index.ts'
import { Bandwidth, Uploader } from './upload/index.ts'
import { FolderSource } from './sources/folder/index.ts'
import { Ssmix2Source } from './sources/ssmix2/index.ts'
import { VendorExportSource } from './sources/vendor/index.ts'
import { SlideSource } from './sources/slides/index.ts'
import { startDimseServer, type DimseServer } from './sources/dimse/index.ts'
import { collectStatus, startStatusServer, type GatewayStatus, type StatusServer } from './status/index.ts'

export interface GatewayOptions {
  log?: Logger
  /** Serve /status and /metrics (default true). */
  statusServer?: boolean
  /** Poll intervals (tests shorten them). */
  pollMs?: number
  /** Upload back-off base (ms). */
  backoffMs?: number
}

export interface Gateway {
  config: GatewayConfig
  outbox: Outbox
  pipeline: Pipeline
  uploader: Uploader
  folders: FolderSource[]
  ssmix2: Ssmix2Source[]
  vendorExports: VendorExportSource[]
  slides: SlideSource[]
  dimse: DimseServer | null
  statusServer: StatusServer | null
  recovery: RecoveryReport
  status(): GatewayStatus
  stop(): Promise<void>
}

const RATE_WINDOW_MS = 60_000

export async function startGateway(config: GatewayConfig, opts: GatewayOptions = {}): Promise<Gateway> {
  const log = opts.log ?? silentLogger
  const policy = config.deid.policy === 'basic' ? BASIC_POLICY : loadPolicy(config.deid.policy)
  const secret = loadSecret(config.deid.secretFile)
  const reid = config.deid.reid ? ReidTable.openWithKeyFile(config.deid.reid.table, config.deid.reid.keyFile) : undefined
  if (!existsSync(config.hub.tokenFile)) log.warn({ tokenFile: config.hub.tokenFile }, 'the hub token file does not exist yet; objects are received and queued, uploads start when it appears')

  await mkdir(config.spool, { recursive: true })
  const outbox = Outbox.open(config.spool)
  const recovery = outbox.recover()
  if (recovery.partsRemoved + recovery.requeued + recovery.adopted + recovery.lost > 0) {
    outbox.recordEvent('gateway', `recovered after restart: ${recovery.requeued} back in the queue, ${recovery.adopted} adopted, ${recovery.partsRemoved} partial files removed, ${recovery.lost} lost`)
    log.warn(recovery, 'recovered the spool after an interrupted run')
  }
  const started = Date.now()
  const bandwidth = new Bandwidth(config.limits.bandwidthBytesPerSec, config.limits.windows)
  const uploader = new Uploader(outbox, {
    hub: config.hub.url,
    tokenFile: config.hub.tokenFile,
    collection: config.collection,
    concurrency: config.limits.concurrency,
    bandwidth,
    bundleBytes: config.limits.bundleBytes,
    largeObjectBytes: config.limits.largeObjectBytes,
    chunkBytes: config.limits.chunkBytes,
    log,
    pollMs: opts.pollMs,
    backoffMs: opts.backoffMs,
  })
  // Records are parsed, de-identified and verified on worker threads (one per core; 1.4× in-thread on 2 quiet
  // cores) when a record source is configured; the main thread keeps the outbox. Same outputs either way.
  const settings = { policy, secret, collection: config.collection }
  const recordPool = config.sources.ssmix2.length + config.sources.vendorExports.length > 0 ? pooledRecordEngine(settings) : null
  const recordStage = recordPool ?? recordEngine(settings)
  const pipeline = new Pipeline(outbox, { policy, secret, collection: config.collection, reid }, {
    concurrency: 2,
    minFreeDiskBytes: config.limits.minFreeDiskBytes,
    pollMs: opts.pollMs,
    log,
    onQueued: () => uploader.kick(),
    // Nothing more arriving: the uploader sends what is queued without waiting out its linger.
    onIdle: () => uploader.flush(),
    // Records use the same policy, secret and collection as the images: one pseudonymous subject for both.
    records: recordStage,
  })
  const folders = config.sources.folders.map((f) => new FolderSource(f, outbox, { log, pollMs: opts.pollMs, onTaken: () => pipeline.kick(), paused: () => pipeline.counters.paused }))
  const sourceOpts = { log, pollMs: opts.pollMs, onTaken: () => pipeline.kick(), paused: () => pipeline.counters.paused }
  // SS-MIX2 messages go to the pipeline in memory (the tree keeps them), taken when their records are settled.
  const ssmix2 = config.sources.ssmix2.map((c) => new Ssmix2Source(c, outbox, { ...sourceOpts, handOff: (inputs) => pipeline.receivedRecords(inputs) }))
  let vendorExports: VendorExportSource[]
  try {
    vendorExports = config.sources.vendorExports.map((c) => new VendorExportSource(c, outbox, sourceOpts))
  } catch (e) {
    outbox.close()
    throw e
  }

  const slides = config.sources.slides.map((c) => new SlideSource(c, outbox, {
    hub: { url: config.hub.url, tokenFile: config.hub.tokenFile, collection: config.collection },
    deid: { policy, secret, collection: config.collection, reid },
    chunkBytes: config.limits.chunkBytes,
    pace: (n) => bandwidth.take(n),
    pollMs: opts.pollMs,
    backoffMs: opts.backoffMs,
    log,
    paused: () => pipeline.counters.paused,
  }))

  // Slides travel through their source's own tus client: counted with the uploader's bytes.
  const sentBytes = () => uploader.state.bytesSent + slides.reduce((n, s) => n + s.sentBytes, 0)

  let dimse: DimseServer | null = null
  let statusServer: StatusServer | null = null
  const samples: Array<[number, number]> = []
  const sampler = setInterval(() => {
    samples.push([Date.now(), sentBytes()])
    while (samples.length > 2 && samples[0]![0] < Date.now() - RATE_WINDOW_MS) samples.shift()
  }, 5000)
  sampler.unref()

  const status = (): GatewayStatus => {
    const first = samples[0]
    const rate = first ? (sentBytes() - first[1]) / Math.max(1, (Date.now() - first[0]) / 1000) : 0
    return collectStatus(outbox, { site: config.site, hub: config.hub.url, collection: config.collection }, {
      uptimeSeconds: Math.round((Date.now() - started) / 1000),
      uploader: {
        authProblem: uploader.state.authProblem,
        hubFullUntil: uploader.state.hubFullUntil && uploader.state.hubFullUntil > Date.now() ? new Date(uploader.state.hubFullUntil).toISOString() : null,
        uploadsInFlight: uploader.state.uploadsInFlight,
        uploadsDone: uploader.state.uploadsDone,
        bytesSent: sentBytes(),
        bandwidthBytesPerSec: bandwidth.rate(),
        bytesPerSecLastMinute: Math.round(rate),
      },
      pipeline: { paused: pipeline.counters.paused },
      records: { queued: pipeline.counters.recordsQueued, held: pipeline.counters.recordsHeld, inputsIgnored: pipeline.counters.recordInputsIgnored, confirmed: uploader.state.recordsConfirmed },
      sources: [...folders.map((f) => ({ name: f.name, lastError: f.lastError })), ...ssmix2.map((s) => ({ name: s.name, lastError: s.lastError })), ...vendorExports.map((s) => ({ name: s.name, lastError: s.lastError })), ...slides.map((s) => ({ name: s.name, lastError: s.lastError })), ...(dimse ? [{ name: 'dimse', lastError: null }] : [])],
    })
  }

  const stop = async () => {
    clearInterval(sampler)
    await statusServer?.close()
    await Promise.all([...folders, ...ssmix2, ...vendorExports, ...slides].map((f) => f.stop()))
    await dimse?.close()
    await pipeline.stop()
    await recordPool?.close()
    await uploader.stop()
    reid?.close()
    outbox.close()
  }

  try {
    pipeline.start()
    uploader.start()
    // The DICOM receiver first: opening its spool clears partial files in incoming/, which must not race a folder copy.
    if (config.sources.dicom) {
      const d = config.sources.dicom
      dimse = await startDimseServer({
        aeTitle: d.aeTitle,
        port: d.port,
        host: d.host,
        allowedCallingAEs: d.allowedCallingAEs,
        spoolDir: config.spool,
        journal: outbox.journal,
        minFreeBytes: config.limits.minFreeDiskBytes,
        log,
        // The row is added with others in the pipeline's next pass (one commit for many): the object is durable in
        // the spool already, and one a crash leaves without a row is adopted by recovery.
        onStored: (entry) => pipeline.received({ id: entry.id, source: 'dimse', sourceRef: entry.callingAE, bytes: entry.bytes, sha256: entry.sha256, receivedAt: Date.parse(entry.receivedAt) }),
      })
    }
    for (const f of [...folders, ...ssmix2, ...vendorExports]) f.start()
    for (const s of slides) await s.start()
    if (opts.statusServer !== false) statusServer = await startStatusServer(config.status.host, config.status.port, status)
  } catch (e) {
    await stop().catch(() => {})
    if ((e as { code?: string }).code === 'EADDRINUSE') throw new KuraError('GATEWAY_PORT_IN_USE', `A port the gateway needs is in use (${(e as Error).message}). Stop the other program or change sources.dicom.port / status.port.`, { status: 500, cause: e })
    throw e
  }
  log.info({ site: config.site, hub: config.hub.url, dicomPort: dimse?.port, statusPort: statusServer?.port, folders: folders.length }, 'gateway started')
  return { config, outbox, pipeline, uploader, folders, ssmix2, vendorExports, slides, dimse, statusServer, recovery, status, stop }
}
