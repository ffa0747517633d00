/**
 * @module One DICOM file through the whole sequence every caller needs (the gateway's pipeline and `kura deid`):
 * read, de-identify, write the output, record the pseudonyms for re-identification, then verify the written
 * bytes independently. The caller decides where a clean or quarantined output goes; this only says which it is.
 *
 * Small objects (≤ SMALL_OBJECT_BYTES) are done in memory and verified from the bytes that were written (the same
 * bytes, without reading them back), read and written with synchronous file calls: for tens of KB a thread-pool
 * round trip costs more than the copy, and one open answers both "how big" and "what bytes". Large ones are streamed to disk and read back for verification, pixel data
 * left on disk. Failures to write the output file (disk full, permissions) are thrown, so a caller can pause and
 * retry; everything else about a bad object is an outcome, never an exception.
 */
import { createHash } from 'node:crypto'
import { closeSync, createWriteStream, fsyncSync, openSync, rmSync, writeSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { once } from 'node:events'
import { errorText, FileSource, readFileIfAtMost } from '@kura/core'
import { readDicom, readDicomBuffer, type ParsedDicom } from '@kura/dicom'
import type { Policy } from '../policy/schema.ts'
import { recordDeidentified } from '../reid/record.ts'
import type { ReidTable } from '../reid/table.ts'
import { collectIdentifiers, sourcesRetainedBy } from '../verify/identifiers.ts'
import { verifyDeidentified, type Finding } from '../verify/scan.ts'
import { SMALL_OBJECT_BYTES, deidentifyBytes } from './bytes.ts'
import { deidentify, type DeidReport } from './deidentify.ts'

/** Large enough that every text value is loaded for verification; pixel data is not. */
const VERIFY_BULK_THRESHOLD = 64 * 1024

export interface DeidFileOptions {
  policy: Policy
  secret: Uint8Array
  collection: string
  /** Where each pseudonym that leaves is recorded (the site's re-identification table). */
  reid?: ReidTable
  /** fsync the output before returning (the gateway's spool); default false. */
  durable?: boolean
}

interface Written {
  /** The output file (the caller moves or removes it). */
  output: string
  sha256: string
  bytes: number
  source: ParsedDicom
  written: ParsedDicom
  report: DeidReport
}

export type DeidFileOutcome =
  | ({ kind: 'clean' } & Written)
  | ({ kind: 'quarantined'; findings: Finding[] } & Written)
  /** The input is not a DICOM file this engine can read; no output was written. */
  | { kind: 'unreadable'; reason: string }
  /** The engine or the verification failed on this object; no output is left. */
  | { kind: 'failed'; reason: string }


/** Errors writing the output file: the caller's disk, not the object. */
export function isOutputWriteError(e: unknown): boolean {
  const code = (e as { code?: string })?.code
  return code === 'ENOSPC' || code === 'EACCES' || code === 'EROFS' || code === 'EDQUOT' || code === 'EIO'
}

/** De-identifies `input` into `output` (which must not exist) and verifies it. */
export async function deidentifyFile(input: string, output: string, o: DeidFileOptions): Promise<DeidFileOutcome> {
  const inputBytes = readFileIfAtMost(input, SMALL_OBJECT_BYTES)
  try {
    if (inputBytes) {
      const r = await deidentifyInMemory(inputBytes, o)
      if (r.kind === 'unreadable' || r.kind === 'failed') return r
      writeOutput(output, r.output, o.durable ?? false)
      const w: Written = { output, sha256: r.sha256, bytes: r.output.length, source: r.source, written: r.written, report: r.report }
      return r.kind === 'clean' ? { kind: 'clean', ...w } : { kind: 'quarantined', findings: r.findings, ...w }
    }
    // Large: streamed to disk, then read back for verification with pixel data left on disk.
    let source: ParsedDicom
    let report: DeidReport
    const hash = createHash('sha256')
    let bytes = 0
    const src = await FileSource.open(input)
    try {
      try {
        source = await readDicom(src)
      } catch (e) {
        return { kind: 'unreadable', reason: `not a readable DICOM file: ${errorText(e)}` }
      }
      try {
        const r = await deidentify(source, src, { policy: o.policy, secret: o.secret, collection: o.collection })
        report = r.report
        const ws = createWriteStream(output, { flags: 'wx', mode: 0o600, flush: o.durable ?? false })
        const closed = once(ws, 'close')
        try {
          for await (const chunk of r.output) {
            hash.update(chunk)
            bytes += chunk.length
            if (!ws.write(chunk)) await once(ws, 'drain')
          }
        } finally {
          ws.end()
          await closed
        }
      } catch (e) {
        await rm(output, { force: true })
        if (isOutputWriteError(e)) throw e
        return { kind: 'failed', reason: `the de-identification engine failed: ${errorText(e)}` }
      }
    } finally {
      await src.close()
    }
    const sha256 = hash.digest('hex')
    // Recorded before the output can go anywhere, so every pseudonym that leaves can be traced back on site.
    if (o.reid) recordDeidentified(o.reid, source.dataset, report, o.collection)
    let written: ParsedDicom
    let findings: Finding[]
    try {
      const out = await FileSource.open(output)
      try {
        written = await readDicom(out, { bulkDataThreshold: VERIFY_BULK_THRESHOLD })
      } finally {
        await out.close()
      }
      findings = verifyDeidentified(written, collectIdentifiers(source), { source, retainedSources: sourcesRetainedBy(o.policy.options) }).findings
    } catch (e) {
      await rm(output, { force: true })
      return { kind: 'failed', reason: `verification could not read the output: ${errorText(e)}` }
    }
    const w: Written = { output, sha256, bytes, source, written, report }
    return findings.length === 0 ? { kind: 'clean', ...w } : { kind: 'quarantined', findings, ...w }
  } catch (e) {
    // Never remove a file this call did not create ('wx' refused an existing one).
    if ((e as { code?: string })?.code !== 'EEXIST') await rm(output, { force: true }).catch(() => {})
    throw e
  }
}

export type DeidBytesOutcome =
  | { kind: 'clean' | 'quarantined'; output: Uint8Array; sha256: string; source: ParsedDicom; written: ParsedDicom; report: DeidReport; findings: Finding[] }
  | { kind: 'unreadable'; reason: string }
  | { kind: 'failed'; reason: string }

/**
 * The small-object sequence in memory: read, de-identify, record the pseudonyms, verify the output bytes
 * independently. Nothing is written: `deidentifyFile` writes `output` itself, the gateway's pipeline writes a
 * whole batch's outputs off the main thread and flushes them together.
 */
export async function deidentifyInMemory(input: Uint8Array, o: Omit<DeidFileOptions, 'durable'>): Promise<DeidBytesOutcome> {
  let source: ParsedDicom
  try {
    source = readDicomBuffer(input)
  } catch (e) {
    return { kind: 'unreadable', reason: `not a readable DICOM file: ${errorText(e)}` }
  }
  let output: Uint8Array
  let report: DeidReport
  try {
    ;({ output, report } = await deidentifyBytes(input, { policy: o.policy, secret: o.secret, collection: o.collection }, source))
  } catch (e) {
    return { kind: 'failed', reason: `the de-identification engine failed: ${errorText(e)}` }
  }
  const sha256 = createHash('sha256').update(output).digest('hex')
  let written: ParsedDicom
  try {
    written = readDicomBuffer(output, { bulkDataThreshold: VERIFY_BULK_THRESHOLD })
  } catch (e) {
    return { kind: 'failed', reason: `verification could not read the output: ${errorText(e)}` }
  }
  // Recorded before the output can go anywhere, so every pseudonym that leaves can be traced back on site.
  if (o.reid) recordDeidentified(o.reid, source.dataset, report, o.collection)
  let findings: Finding[]
  try {
    findings = verifyDeidentified(written, collectIdentifiers(source), { source, retainedSources: sourcesRetainedBy(o.policy.options) }).findings
  } catch (e) {
    return { kind: 'failed', reason: `verification could not read the output: ${errorText(e)}` }
  }
  return { kind: findings.length === 0 ? 'clean' : 'quarantined', output, sha256, source, written, report, findings }
}

/** Writes `bytes` to a new file `path` ('wx': never over an existing one); on failure nothing is left there. */
function writeOutput(path: string, bytes: Uint8Array, durable: boolean): void {
  const fd = openSync(path, 'wx', 0o600)
  try {
    for (let o = 0; o < bytes.length; ) o += writeSync(fd, bytes, o, bytes.length - o)
    if (durable) fsyncSync(fd)
  } catch (e) {
    closeSync(fd)
    rmSync(path, { force: true })
    throw e
  }
  closeSync(fd)
}
