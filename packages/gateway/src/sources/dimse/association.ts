/**
 * @module One DICOM association on one TCP connection, acceptor side (PS3.8 9.2 state machine,
 * reduced to what an SCP meets): negotiation, C-ECHO, C-STORE streamed to the spool, release, abort,
 * ARTIM and idle timers.
 *
 * A C-STORE data set is never gathered: each PDV slice goes to the spool file as it arrives, and the
 * socket is paused while the disk catches up. The C-STORE-RSP is sent only after the spool has
 * committed the object (fsync + rename), so what a sender sees acknowledged is on disk.
 */
import type { Socket } from 'node:net'
import { isKuraError, type Logger } from '@kura/core'
import { encodeFileMeta, KURA_IMPLEMENTATION_CLASS_UID, KURA_IMPLEMENTATION_VERSION_NAME } from '@kura/dicom'
import type { Spool, SpoolEntry, SpoolWrite } from '../../spool/index.ts'
import { CommandField, decodeCommand, encodeCommand, NO_DATASET, Status, type Command } from './command.ts'
import { negotiate, type AcceptedContext, type NegotiationPolicy } from './negotiation.ts'
import {
  AbortReason, DICOM_APPLICATION_CONTEXT, encodeAbort, encodeAssociateAc, encodeAssociateRj, encodePData, encodeReleaseRp,
  parseAssociateRq, PduType, Reject, type AssociateRq, type RejectReason,
} from './pdu.ts'
import { PduReader } from './pdu-reader.ts'

export interface AssociationConfig extends NegotiationPolicy {
  aeTitle: string
  /** Reject requests whose Called AE Title is not ours (reason 7). */
  checkCalledAE: boolean
  /** Calling AE titles allowed to associate; empty allows any. */
  allowedCallingAEs: readonly string[]
  /** The maximum P-DATA-TF length we announce (PS3.8 D.1). */
  maxPduLength: number
  artimTimeoutMs: number
  idleTimeoutMs: number
}

export interface AssociationHooks {
  /** Takes a slot under the association limit; false rejects with local-limit-exceeded. */
  admit(): boolean
  /** Gives the slot back (called once, only after an admitted association ends). */
  leave(): void
  stored(entry: SpoolEntry): void
  closed(a: Association): void
}

/** Largest command set we gather (commands are a few hundred bytes). */
const MAX_COMMAND_BYTES = 64 * 1024
/** Largest A-ASSOCIATE-RQ or other control PDU we gather (128 contexts × many syntaxes fits). */
const MAX_CONTROL_PDU = 1 << 20
/** Pause reading when this much is queued behind a held reader. */
const BACKLOG_PAUSE = 4 << 20

interface Message {
  contextId: number
  commandParts: Buffer[]
  commandBytes: number
  command?: Command
  /** Where the data set goes; absent while the data set is being refused (status set). */
  store?: SpoolWrite
  refusal?: { status: number; comment: string }
}

type State = 'awaiting-rq' | 'established' | 'released' | 'closed'

export class Association {
  private state: State = 'awaiting-rq'
  private readonly reader: PduReader
  private rq?: AssociateRq
  private contexts = new Map<number, AcceptedContext>()
  private peerMaxPdu = 0
  private admitted = false
  private msg: Message | null = null
  private pending: Promise<unknown> | null = null
  private timer: NodeJS.Timeout | null = null
  readonly peer: { address: string; port: number }
  /** Counters for logs and tests. */
  stored = 0

  constructor(
    private readonly socket: Socket,
    private readonly config: AssociationConfig,
    private readonly spool: Spool,
    private readonly hooks: AssociationHooks,
    private readonly log: Logger,
  ) {
    this.peer = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 }
    this.reader = new PduReader({ pdu: (t, b) => this.onPdu(t, b), pdv: (c, cmd, last, piece, end) => this.onPdv(c, cmd, last, piece, end) }, MAX_CONTROL_PDU, config.maxPduLength)
    // Nagle would hold each small C-STORE-RSP until the peer's delayed ACK: ~40 ms per object.
    socket.setNoDelay(true)
    socket.setKeepAlive(true, 60_000)
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', (e) => this.log.debug({ peer: this.peer, err: e.message }, 'DICOM connection error'))
    socket.on('close', () => this.onClose())
    this.arm(config.artimTimeoutMs, 'ARTIM timer expired before an A-ASSOCIATE-RQ arrived')
  }

  private arm(ms: number, why: string): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.log.warn({ peer: this.peer, callingAE: this.rq?.callingAE }, why)
      if (this.state === 'established') this.abort(AbortReason.notSpecified)
      else this.socket.destroy()
    }, ms)
    this.timer.unref()
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'established') this.arm(this.config.idleTimeoutMs, 'idle timeout: no data from the peer; association aborted')
    try {
      this.reader.push(chunk)
    } catch (e) {
      this.protocolError(e)
      return
    }
    if (this.reader.isHeld && this.reader.backlog > BACKLOG_PAUSE) this.socket.pause()
  }

  /** Suspends PDU processing (and reading, once a backlog builds) until `done` is called. */
  private hold(): () => void {
    this.reader.hold()
    let released = false
    return () => {
      if (released) return
      released = true
      try {
        this.reader.release()
      } catch (e) {
        this.protocolError(e)
        return
      }
      if (!this.reader.isHeld && this.socket.isPaused()) this.socket.resume()
    }
  }

  private protocolError(e: unknown): void {
    this.log.warn({ peer: this.peer, callingAE: this.rq?.callingAE, err: isKuraError(e) ? e.message : String(e) }, 'DICOM protocol error; association aborted')
    this.abort(AbortReason.unexpectedPdu)
  }

  private send(buffers: Buffer[]): void {
    if (this.socket.destroyed || !this.socket.writable) return
    this.socket.write(buffers.length === 1 ? buffers[0]! : Buffer.concat(buffers))
  }

  /** A-ABORT as service provider, then close; any object being received is discarded. */
  abort(reason: number = AbortReason.notSpecified): void {
    if (this.state === 'closed') return
    this.send([encodeAbort(2, reason)])
    this.state = 'closed'
    this.socket.end()
    // Give the A-ABORT a moment to leave, then close hard (PS3.8 9.2: ARTIM after abort).
    setTimeout(() => this.socket.destroy(), 500).unref()
    void this.dropMessage()
  }

  private onPdu(type: number, body: Buffer): void {
    switch (type) {
      case PduType.AssociateRq:
        if (this.state !== 'awaiting-rq') throw new Error('A-ASSOCIATE-RQ on an established association')
        this.onAssociateRq(parseAssociateRq(body))
        return
      case PduType.ReleaseRq:
        if (this.state !== 'established') throw new Error('A-RELEASE-RQ outside an association')
        if (this.msg) throw new Error('A-RELEASE-RQ in the middle of a message')
        this.send([encodeReleaseRp()])
        this.state = 'released'
        this.log.debug({ peer: this.peer, callingAE: this.rq?.callingAE, stored: this.stored }, 'association released')
        // The requester closes the connection; ARTIM guards against one that does not.
        this.arm(this.config.artimTimeoutMs, 'peer did not close the connection after A-RELEASE-RP')
        return
      case PduType.Abort:
        this.log.info({ peer: this.peer, callingAE: this.rq?.callingAE, source: body[2], reason: body[3] }, 'peer aborted the association')
        this.state = 'closed'
        this.socket.destroy()
        void this.dropMessage()
        return
      default:
        throw new Error(`unexpected PDU type 0x${type.toString(16)}`)
    }
  }

  private reject(r: RejectReason, why: string, rq: AssociateRq): void {
    this.log.warn({ peer: this.peer, callingAE: rq.callingAE, calledAE: rq.calledAE, ...r }, `association rejected: ${why}`)
    this.send([encodeAssociateRj(r)])
    this.state = 'released'
    this.socket.end()
    this.arm(this.config.artimTimeoutMs, 'peer did not close the connection after A-ASSOCIATE-RJ')
  }

  private onAssociateRq(rq: AssociateRq): void {
    this.rq = rq
    const c = this.config
    if ((rq.protocolVersion & 0x0001) === 0) return this.reject(Reject.protocolVersionNotSupported, `protocol version ${rq.protocolVersion}`, rq)
    if (rq.applicationContext !== DICOM_APPLICATION_CONTEXT) return this.reject(Reject.applicationContextNotSupported, `application context ${rq.applicationContext}`, rq)
    if (c.checkCalledAE && rq.calledAE !== c.aeTitle) return this.reject(Reject.calledAeNotRecognized, `called AE title "${rq.calledAE}" is not "${c.aeTitle}"`, rq)
    if (c.allowedCallingAEs.length > 0 && !c.allowedCallingAEs.includes(rq.callingAE)) return this.reject(Reject.callingAeNotRecognized, `calling AE title "${rq.callingAE}" is not in the allow list`, rq)
    if (!this.hooks.admit()) return this.reject(Reject.localLimitExceeded, 'too many associations', rq)
    this.admitted = true
    const { answers, accepted } = negotiate(rq.contexts, c)
    this.contexts = accepted
    this.peerMaxPdu = rq.maxPduLength
    this.send([encodeAssociateAc({
      calledAE: rq.calledAE,
      callingAE: rq.callingAE,
      contexts: answers,
      maxPduLength: c.maxPduLength,
      implementationClassUid: KURA_IMPLEMENTATION_CLASS_UID,
      implementationVersionName: KURA_IMPLEMENTATION_VERSION_NAME,
    })])
    this.state = 'established'
    this.arm(c.idleTimeoutMs, 'idle timeout: no data from the peer; association aborted')
    this.log.debug({ peer: this.peer, callingAE: rq.callingAE, accepted: accepted.size, proposed: rq.contexts.length, implementation: rq.implementationClassUid }, 'association accepted')
  }

  private onPdv(contextId: number, isCommand: boolean, isLast: boolean, piece: Buffer, endOfPdv: boolean): void {
    if (this.state !== 'established') throw new Error('P-DATA-TF outside an association')
    if (!this.contexts.has(contextId)) throw new Error(`PDV on presentation context ${contextId}, which was not accepted`)
    if (isCommand) {
      if (this.msg?.command) throw new Error('a command fragment arrived while a data set was expected')
      const m = (this.msg ??= { contextId, commandParts: [], commandBytes: 0 })
      if (m.contextId !== contextId) throw new Error('command fragments on two presentation contexts')
      m.commandBytes += piece.length
      if (m.commandBytes > MAX_COMMAND_BYTES) throw new Error(`command set larger than ${MAX_COMMAND_BYTES} bytes`)
      m.commandParts.push(Buffer.from(piece))
      if (isLast && endOfPdv) this.onCommand(m)
      return
    }
    const m = this.msg
    if (!m?.command) throw new Error('a data set fragment arrived before its command')
    if (m.contextId !== contextId) throw new Error('data set on another presentation context than its command')
    if (m.store && !m.store.write(piece)) {
      const done = this.hold()
      m.store.onDrain(done)
    }
    if (isLast && endOfPdv) this.onDatasetEnd(m)
  }

  private respond(contextId: number, c: Command): void {
    this.send(encodePData(contextId, true, encodeCommand(c), this.peerMaxPdu))
    if (this.state === 'established') this.arm(this.config.idleTimeoutMs, 'idle timeout: no data from the peer; association aborted')
  }

  private onCommand(m: Message): void {
    // An unreadable command has no Message ID to answer: it throws and the association is aborted.
    const cmd = decodeCommand(Buffer.concat(m.commandParts))
    m.command = cmd
    m.commandParts = []
    const hasDataset = cmd.CommandDataSetType !== NO_DATASET
    const ctx = this.contexts.get(m.contextId)!
    if (cmd.CommandField === CommandField.CEchoRq && !hasDataset) {
      this.msg = null
      this.respond(m.contextId, { AffectedSOPClassUID: cmd.AffectedSOPClassUID ?? ctx.abstractSyntax, CommandField: CommandField.CEchoRsp, MessageIDBeingRespondedTo: cmd.MessageID ?? 0, CommandDataSetType: NO_DATASET, Status: Status.Success })
      return
    }
    if (cmd.CommandField !== CommandField.CStoreRq) {
      m.refusal = { status: Status.UnrecognizedOperation, comment: `command 0x${cmd.CommandField.toString(16)} is not supported by this SCP` }
      if (!hasDataset) this.finishRefused(m)
      return
    }
    if (!hasDataset) {
      m.refusal = { status: Status.CannotUnderstand, comment: 'C-STORE-RQ without a data set' }
      return this.finishRefused(m)
    }
    if (ctx.kind !== 'storage' || cmd.AffectedSOPClassUID !== ctx.abstractSyntax) {
      m.refusal = { status: Status.SOPClassNotSupported, comment: `SOP class ${cmd.AffectedSOPClassUID ?? '(none)'} does not match presentation context ${ctx.id}` }
      return
    }
    if (!cmd.AffectedSOPInstanceUID) {
      m.refusal = { status: Status.CannotUnderstand, comment: 'Affected SOP Instance UID (0000,1000) is missing' }
      return
    }
    const space = this.spool.checkSpace()
    if (space instanceof Promise) {
      const done = this.hold()
      space.then(() => this.openStore(m, ctx, cmd), (e: unknown) => this.refuseForSpace(m, e)).finally(done)
    } else {
      this.openStore(m, ctx, cmd)
    }
  }

  private refuseForSpace(m: Message, e: unknown): void {
    this.log.error({ err: isKuraError(e) ? e.message : String(e), callingAE: this.rq?.callingAE }, 'C-STORE refused: spool is low on space')
    m.refusal = { status: Status.OutOfResources, comment: 'gateway spool is low on disk space; retry later' }
  }

  private openStore(m: Message, ctx: AcceptedContext, cmd: Command): void {
    if (this.state === 'closed') return
    const rq = this.rq!
    const head = encodeFileMeta({
      MediaStorageSOPClassUID: cmd.AffectedSOPClassUID!,
      MediaStorageSOPInstanceUID: cmd.AffectedSOPInstanceUID!,
      TransferSyntaxUID: ctx.transferSyntax,
      SourceApplicationEntityTitle: rq.callingAE,
    })
    m.store = this.spool.begin({
      source: 'dimse',
      callingAE: rq.callingAE,
      calledAE: rq.calledAE,
      peer: this.peer,
      sopClassUid: cmd.AffectedSOPClassUID!,
      sopInstanceUid: cmd.AffectedSOPInstanceUID!,
      transferSyntaxUid: ctx.transferSyntax,
    }, head)
  }

  private storeRsp(cmd: Command, status: number, comment?: string): Command {
    return {
      AffectedSOPClassUID: cmd.AffectedSOPClassUID,
      CommandField: CommandField.CStoreRsp,
      MessageIDBeingRespondedTo: cmd.MessageID ?? 0,
      CommandDataSetType: NO_DATASET,
      Status: status,
      ErrorComment: comment,
      AffectedSOPInstanceUID: cmd.AffectedSOPInstanceUID,
    }
  }

  private finishRefused(m: Message): void {
    const cmd = m.command!
    const r = m.refusal!
    this.msg = null
    this.log.warn({ peer: this.peer, callingAE: this.rq?.callingAE, status: r.status.toString(16), why: r.comment }, 'DIMSE request refused')
    const rsp = cmd.CommandField === CommandField.CStoreRq
      ? this.storeRsp(cmd, r.status, r.comment)
      : { CommandField: cmd.CommandField | 0x8000, MessageIDBeingRespondedTo: cmd.MessageID ?? 0, CommandDataSetType: NO_DATASET, Status: r.status, ErrorComment: r.comment }
    this.respond(m.contextId, rsp)
  }

  private onDatasetEnd(m: Message): void {
    if (!m.store) return this.finishRefused(m)
    const store = m.store
    const cmd = m.command!
    // Hold further PDUs until the response is out, so responses keep their order.
    const done = this.hold()
    const p = store.commit().then(
      (entry) => {
        this.msg = null
        this.stored++
        this.respond(m.contextId, this.storeRsp(cmd, Status.Success))
        try {
          this.hooks.stored(entry)
        } catch (e) {
          this.log.error({ err: String(e), id: entry.id }, 'onStored callback failed; the object stays in the spool')
        }
      },
      (e: unknown) => {
        this.msg = null
        this.log.error({ err: isKuraError(e) ? e.message : String(e), cause: String((e as Error).cause ?? ''), sopInstanceUid: cmd.AffectedSOPInstanceUID }, 'C-STORE failed: spool write failed')
        this.respond(m.contextId, this.storeRsp(cmd, Status.OutOfResources, 'gateway could not write the object to disk; retry later'))
      },
    ).finally(() => {
      if (this.pending === p) this.pending = null
      done()
    })
    this.pending = p
  }

  /** Discards a message in progress (abort or lost connection): its partial file is removed. */
  private async dropMessage(): Promise<void> {
    const m = this.msg
    this.msg = null
    // A commit in progress had all its data: let it finish, the object is complete.
    if (m?.store && this.pending === null) await m.store.discard()
  }

  private onClose(): void {
    if (this.timer) clearTimeout(this.timer)
    if (this.state !== 'closed') {
      if (this.state === 'established') this.log.warn({ peer: this.peer, callingAE: this.rq?.callingAE, partialDiscarded: this.msg?.store !== undefined && this.pending === null }, 'connection closed without A-RELEASE')
      this.state = 'closed'
    }
    const finish = (): void => {
      if (this.admitted) {
        this.admitted = false
        this.hooks.leave()
      }
      this.hooks.closed(this)
    }
    const drop = this.dropMessage()
    void Promise.all([drop, this.pending]).finally(finish)
  }

  /** Resolves when nothing of this association is still writing. */
  async settled(): Promise<void> {
    await this.pending
  }
}
