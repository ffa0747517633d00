/**
 * @module The DICOM network source: a C-ECHO / C-STORE SCP that streams what it receives into the spool.
 */
import { createServer, type Server } from 'node:net'
import { type Logger, silentLogger } from '@kura/core'
import { Spool, type Journal, type SpoolEntry } from '../../spool/index.ts'
import { Association, type AssociationConfig } from './association.ts'
import { DimseErrors } from './errors.ts'

export interface DimseServerOptions {
  /** Our AE title (1–16 characters, no backslash or control characters). */
  aeTitle: string
  /** TCP port; 0 picks a free one (see the returned `port`). */
  port: number
  /** Listen address; default 0.0.0.0 (modalities and PACS connect from the hospital network). */
  host?: string
  /** Calling AE titles allowed to associate; empty or absent allows any. */
  allowedCallingAEs?: readonly string[]
  /** Reject associations addressed to another Called AE title. Default true. */
  checkCalledAE?: boolean
  /** Associations served at once; more are rejected as transient (local limit exceeded). Default 16. */
  maxAssociations?: number
  /** Spool folder; small objects land in `<spoolDir>/journal`, larger ones in `<spoolDir>/incoming`. */
  spoolDir: string
  /** The journal to append small objects to (the gateway passes its outbox's); by default the spool opens its own. */
  journal?: Journal
  /** Refuse objects (status A700) when the spool's file system has less free space. Default 1 GiB. */
  minFreeBytes?: number
  /** Storage SOP classes accepted beyond 1.2.840.10008.5.1.4.1.1.*. */
  extraSopClasses?: readonly string[]
  /** Transfer syntaxes accepted beyond the uncompressed, deflate, JPEG, JPEG-LS, JPEG 2000, HTJ2K and RLE ones. */
  extraTransferSyntaxes?: readonly string[]
  /** Maximum P-DATA-TF length we announce. Default 256 KiB. */
  maxPduLength?: number
  /** ARTIM timer (PS3.8 9.1.5): wait for the A-ASSOCIATE-RQ and for the peer to close. Default 30 s. */
  artimTimeoutMs?: number
  /** An established association silent this long is aborted. Default 5 minutes. */
  idleTimeoutMs?: number
  log?: Logger
  /** Called once per committed object, after its C-STORE-RSP was sent. */
  onStored?: (entry: SpoolEntry) => void
}

export interface DimseServer {
  port: number
  spool: Spool
  /** Stops listening, aborts open associations (their partial objects are discarded) and waits for commits in flight. */
  close(): Promise<void>
}

const AE_TITLE = /^[\x20-\x5b\x5d-\x7e]{1,16}$/

function validAe(ae: string): boolean {
  return AE_TITLE.test(ae) && ae.trim() === ae && ae.length > 0
}

export async function startDimseServer(opts: DimseServerOptions): Promise<DimseServer> {
  if (!validAe(opts.aeTitle)) throw DimseErrors.badConfig(`AE title "${opts.aeTitle}" must be 1–16 printable characters without backslash or surrounding spaces`)
  for (const ae of opts.allowedCallingAEs ?? []) if (!validAe(ae)) throw DimseErrors.badConfig(`allowed calling AE title "${ae}" is not a valid AE title`)
  const maxAssociations = opts.maxAssociations ?? 16
  if (!(maxAssociations >= 1)) throw DimseErrors.badConfig('maxAssociations must be at least 1')
  const maxPduLength = opts.maxPduLength ?? 256 * 1024
  if (maxPduLength !== 0 && maxPduLength < 4096) throw DimseErrors.badConfig('maxPduLength must be 0 (unlimited) or at least 4096')
  const log = opts.log ?? silentLogger
  const spool = await Spool.open(opts.spoolDir, { minFreeBytes: opts.minFreeBytes ?? 1024 ** 3, journal: opts.journal, log })
  const config: AssociationConfig = {
    aeTitle: opts.aeTitle,
    checkCalledAE: opts.checkCalledAE ?? true,
    allowedCallingAEs: opts.allowedCallingAEs ?? [],
    maxPduLength,
    artimTimeoutMs: opts.artimTimeoutMs ?? 30_000,
    idleTimeoutMs: opts.idleTimeoutMs ?? 300_000,
    extraSopClasses: opts.extraSopClasses,
    extraTransferSyntaxes: opts.extraTransferSyntaxes,
  }
  const live = new Set<Association>()
  let active = 0
  const hooks = {
    admit: () => (active < maxAssociations ? (active++, true) : false),
    leave: () => { active-- },
    stored: (entry: SpoolEntry) => opts.onStored?.(entry),
    closed: (a: Association) => { live.delete(a) },
  }
  const server: Server = createServer({ noDelay: true }, (socket) => {
    live.add(new Association(socket, config, spool, hooks, log))
  })
  const host = opts.host ?? '0.0.0.0'
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(DimseErrors.listen(host, opts.port, e)))
    server.listen(opts.port, host, () => resolve())
  })
  server.on('error', (e) => log.error({ err: e.message }, 'DICOM listener error'))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : opts.port
  log.info({ aeTitle: opts.aeTitle, host, port, spool: opts.spoolDir }, 'DICOM receiver listening')
  return {
    port,
    spool,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      const all = [...live]
      for (const a of all) a.abort()
      await Promise.all(all.map((a) => a.settled()))
      await closed
      await spool.close()
    },
  }
}
