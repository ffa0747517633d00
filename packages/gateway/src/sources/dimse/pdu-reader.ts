/**
 * @module Incremental PDU reader: frames upper-layer PDUs out of socket chunks and hands P-DATA-TF
 * PDV values on as zero-copy slices, so a data set streams through without being gathered.
 */
import { DimseErrors } from './errors.ts'
import { PduType } from './pdu.ts'

export interface PduReaderHandlers {
  /** A whole non-P-DATA PDU (association, release, abort): small, so it is gathered. */
  pdu(type: number, body: Buffer): void
  /**
   * A piece of a PDV value. `isCommand` and `isLastFragment` are the message control header bits
   * (PS3.8 E.2); `endOfPdv` says this piece ends the PDV, so the message part is complete when
   * both `isLastFragment` and `endOfPdv` are set.
   */
  pdv(contextId: number, isCommand: boolean, isLastFragment: boolean, piece: Buffer, endOfPdv: boolean): void
}

type State = 'header' | 'body' | 'pdv-header' | 'pdv-data'

export class PduReader {
  private readonly queue: Buffer[] = []
  private queued = 0
  private state: State = 'header'
  private pduType = 0
  private pduLength = 0
  private pduLeft = 0
  private pdvLeft = 0
  private pdvContext = 0
  private pdvFlags = 0
  private held = 0

  /** `maxControlPdu` bounds the non-P-DATA PDUs we gather; `maxDataPdu` is the maximum we announced. */
  constructor(private readonly handlers: PduReaderHandlers, private readonly maxControlPdu: number, private readonly maxDataPdu: number) {}

  /** Adds socket bytes and processes what it can. Throws DIMSE_BAD_PDU on a protocol error. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return
    this.queue.push(chunk)
    this.queued += chunk.length
    this.run()
  }

  /** Stops processing until `release` (a handler waits for the disk, or for an async check). */
  hold(): void {
    this.held++
  }

  release(): void {
    if (this.held > 0 && --this.held === 0) this.run()
  }

  get isHeld(): boolean {
    return this.held > 0
  }

  /** Bytes received and not yet processed: the caller pauses the socket when this grows. */
  get backlog(): number {
    return this.queued
  }

  /** Exactly `n` queued bytes as one buffer (copied only when they span chunks). */
  private take(n: number): Buffer {
    const first = this.queue[0]!
    if (first.length >= n) {
      const out = first.subarray(0, n)
      if (first.length === n) this.queue.shift()
      else this.queue[0] = first.subarray(n)
      this.queued -= n
      return out
    }
    const out = Buffer.allocUnsafe(n)
    let pos = 0
    while (pos < n) {
      const b = this.queue[0]!
      const k = Math.min(b.length, n - pos)
      b.copy(out, pos, 0, k)
      pos += k
      if (k === b.length) this.queue.shift()
      else this.queue[0] = b.subarray(k)
    }
    this.queued -= n
    return out
  }

  private run(): void {
    while (this.held === 0) {
      switch (this.state) {
        case 'header': {
          if (this.queued < 6) return
          const h = this.take(6)
          this.pduType = h[0]!
          this.pduLength = h.readUInt32BE(2)
          if (this.pduType < PduType.AssociateRq || this.pduType > PduType.Abort) throw DimseErrors.badPdu(`unknown PDU type 0x${this.pduType.toString(16)}`)
          if (this.pduType === PduType.PDataTf) {
            // Peers must respect the maximum we announced; a little slack for ones that count the header.
            if (this.maxDataPdu > 0 && this.pduLength > this.maxDataPdu + 6) throw DimseErrors.badPdu(`P-DATA-TF of ${this.pduLength} bytes exceeds the announced maximum ${this.maxDataPdu}`)
            this.pduLeft = this.pduLength
            this.state = 'pdv-header'
          } else {
            if (this.pduLength > this.maxControlPdu) throw DimseErrors.badPdu(`PDU type 0x${this.pduType.toString(16)} of ${this.pduLength} bytes is too large`)
            this.state = 'body'
          }
          break
        }
        case 'body': {
          if (this.queued < this.pduLength) return
          const body = this.pduLength === 0 ? Buffer.alloc(0) : this.take(this.pduLength)
          this.state = 'header'
          this.handlers.pdu(this.pduType, body)
          break
        }
        case 'pdv-header': {
          if (this.pduLeft === 0) {
            this.state = 'header'
            break
          }
          if (this.queued < 6) return
          if (this.pduLeft < 6) throw DimseErrors.badPdu('a PDV item header runs past the end of its P-DATA-TF')
          const h = this.take(6)
          const itemLength = h.readUInt32BE(0)
          if (itemLength < 2 || itemLength + 4 > this.pduLeft) throw DimseErrors.badPdu(`PDV item length ${itemLength} does not fit its P-DATA-TF`)
          this.pduLeft -= 4 + itemLength
          this.pdvContext = h[4]!
          this.pdvFlags = h[5]!
          this.pdvLeft = itemLength - 2
          this.state = 'pdv-data'
          if (this.pdvLeft === 0) {
            this.state = 'pdv-header'
            this.emitPdv(Buffer.alloc(0), true)
          }
          break
        }
        case 'pdv-data': {
          if (this.queued === 0) return
          const first = this.queue[0]!
          const piece = this.take(Math.min(first.length, this.pdvLeft))
          this.pdvLeft -= piece.length
          const end = this.pdvLeft === 0
          if (end) this.state = 'pdv-header'
          this.emitPdv(piece, end)
          break
        }
      }
    }
  }

  private emitPdv(piece: Buffer, end: boolean): void {
    this.handlers.pdv(this.pdvContext, (this.pdvFlags & 0x01) !== 0, (this.pdvFlags & 0x02) !== 0, piece, end)
  }
}
