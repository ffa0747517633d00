/**
 * @module What the record pool (record-pool.ts) and its workers (record-worker.ts) send each other, packed: a job's
 * raw inputs in one buffer and its records' bodies (UTF-8 canonical JSON) in another, each transferred rather than
 * cloned, beside flat arrays of the few short strings and numbers left. A structured clone of the same batch as
 * objects (an input object and Uint8Array per message; an output object and a ~900-character two-byte string per
 * record) cost the main thread ≈ 10 µs per message to serialize and deserialize, and its garbage; the bodies also
 * reach the outbox as the bytes SQLite stores (no second UTF-16 → UTF-8 encoding when bound).
 */
import { hash } from 'node:crypto'
import type { RecordOutput, SpooledInput } from '../outbox/index.ts'
import type { BodyWriter } from './record-stage.ts'

export type WireInput = Pick<SpooledInput, 'format' | 'ref' | 'raw'>

/** A job's inputs: `raw` of input i is bytes[ends[i - 1] ?? 0, ends[i]). */
export interface PackedInputs {
  formats: string[]
  refs: string[]
  ends: number[]
  bytes: ArrayBuffer
}

/**
 * A job's outputs. `counts[i]`: outputs of input i, in order. `fields`, per output: a clean one as `0, key,
 * recordKind, studyUid, end` (its body is bytes[previous clean end, end)), a held one as `1, JSON of the output`
 * (rare, so kept simple).
 */
export interface PackedOutputs {
  counts: number[]
  fields: Array<string | number | null>
  bytes: ArrayBuffer
}

export function packInputs(inputs: readonly WireInput[]): PackedInputs {
  let total = 0
  for (const i of inputs) total += i.raw.length
  // Not from Buffer's shared pool (which small sizes would be): the whole ArrayBuffer is transferred.
  const bytes = new Uint8Array(new ArrayBuffer(total))
  const formats: string[] = []
  const refs: string[] = []
  const ends: number[] = []
  let at = 0
  for (const i of inputs) {
    bytes.set(i.raw, at)
    at += i.raw.length
    formats.push(i.format)
    refs.push(i.ref)
    ends.push(at)
  }
  return { formats, refs, ends, bytes: bytes.buffer }
}

export function unpackInputs(p: PackedInputs): WireInput[] {
  const out: WireInput[] = []
  let start = 0
  for (let i = 0; i < p.ends.length; i++) {
    out.push({ format: p.formats[i]!, ref: p.refs[i]!, raw: new Uint8Array(p.bytes, start, p.ends[i]! - start) })
    start = p.ends[i]!
  }
  return out
}

/**
 * Collects a job's outputs on the worker. `body` is the BodyWriter stageInput is given: it encodes each clean
 * record's canonical JSON once, into the job's buffer, and hashes those bytes for the record key (the same key as
 * recordKey of the text: SHA-256 of its UTF-8). `add` then takes the input's outputs, whose clean ones were
 * written by `body` in the same order.
 */
export class OutputPacker {
  private buf: Buffer
  private used = 0
  private readonly ends: number[] = []
  private readonly counts: number[] = []
  private readonly fields: Array<string | number | null> = []

  constructor(expectedBytes: number) {
    // allocUnsafeSlow: never a slice of Buffer's shared pool, so the ArrayBuffer is this packer's alone to transfer.
    this.buf = Buffer.allocUnsafeSlow(Math.max(64 * 1024, expectedBytes))
  }

  readonly body: BodyWriter = (canonical) => {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    this.reserve(canonical.length * 3)
    const start = this.used
    this.used += this.buf.write(canonical, start, 'utf8')
    this.ends.push(this.used)
    return { key: hash('sha256', this.buf.subarray(start, this.used), 'hex'), body: canonical }
  }

  add(outputs: readonly RecordOutput[]): void {
    this.counts.push(outputs.length)
    for (const o of outputs) {
      if (o.kind === 'clean') {
        const end = this.ends.shift()
        if (end === undefined) throw new Error('a clean record whose body the packer did not write')
        this.fields.push(0, o.key, o.recordKind, o.studyUid, end)
      } else {
        this.fields.push(1, JSON.stringify(o))
      }
    }
  }

  /** The packed outputs; the buffer goes to the transfer list (the packer is done with). */
  finish(): PackedOutputs {
    if (this.ends.length > 0) throw new Error('bodies written for records no output holds')
    return { counts: this.counts, fields: this.fields, bytes: this.buf.buffer as ArrayBuffer }
  }

  private reserve(n: number): void {
    if (this.used + n <= this.buf.length) return
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.used + n))
    this.buf.copy(next, 0, 0, this.used)
    this.buf = next
  }
}

/** The outputs of each input of the job, clean bodies as views of the one transferred buffer (no copy). */
export function unpackOutputs(p: PackedOutputs): RecordOutput[][] {
  const out: RecordOutput[][] = []
  const f = p.fields
  let at = 0
  let start = 0
  for (const n of p.counts) {
    const outputs: RecordOutput[] = []
    for (let k = 0; k < n; k++) {
      if (f[at] === 0) {
        const end = f[at + 4] as number
        outputs.push({ kind: 'clean', key: f[at + 1] as string, body: Buffer.from(p.bytes, start, end - start), recordKind: f[at + 2] as string, studyUid: f[at + 3] as string | null })
        start = end
        at += 5
      } else {
        outputs.push(JSON.parse(f[at + 1] as string) as RecordOutput)
        at += 2
      }
    }
    out.push(outputs)
  }
  return out
}
