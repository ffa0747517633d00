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
import { closeSync, createWriteStream, fstatSync, fsyncSync, openSync, readSync, rmSync, writeSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { once } from 'node:events'
import { FileSource, isKuraError } from '@kura/core'
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

export function errorText(e: unknown): string {
  if (isKuraError(e)) return `${e.message} [${e.code}]`
  return (e as Error)?.message ?? String(e)
}

/** Errors writing the output file: the caller's disk, not the object. */
export function isOutputWriteError(e: unknown): boolean {
  const code = (e as { code?: string })?.code
  return code === 'ENOSPC' || code === 'EACCES' || code === 'EROFS' || code === 'EDQUOT' || code === 'EIO'
}

/** De-identifies `input` into `output` (which must not exist) and verifies it. */
export async function deidentifyFile(input: string, output: string, o: DeidFileOptions): Promise<DeidFileOutcome> {
  const ctx = { policy: o.policy, secret: o.secret, collection: o.collection }
  const inputBytes = readIfSmall(input)
  try {
    let source: ParsedDicom
    let report: DeidReport
    let sha256: string
    let bytes: number
    let written: ParsedDicom | null = null
    if (inputBytes) {
      try {
        source = readDicomBuffer(inputBytes)
      } catch (e) {
        return { kind: 'unreadable', reason: `not a readable DICOM file: ${errorText(e)}` }
      }
      let out: Uint8Array
      try {
        const r = await deidentifyBytes(inputBytes, ctx, source)
        out = r.output
        report = r.report
      } catch (e) {
        return { kind: 'failed', reason: `the de-identification engine failed: ${errorText(e)}` }
      }
      writeOutput(output, out, o.durable ?? false)
      sha256 = createHash('sha256').update(out).digest('hex')
      bytes = out.length
      try {
        written = readDicomBuffer(out, { bulkDataThreshold: VERIFY_BULK_THRESHOLD })
      } catch (e) {
        await rm(output, { force: true })
        return { kind: 'failed', reason: `verification could not read the output: ${errorText(e)}` }
      }
    } else {
      const src = await FileSource.open(input)
      try {
        try {
          source = await readDicom(src)
        } catch (e) {
          return { kind: 'unreadable', reason: `not a readable DICOM file: ${errorText(e)}` }
        }
        const hash = createHash('sha256')
        bytes = 0
        try {
          const r = await deidentify(source, src, ctx)
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
        sha256 = hash.digest('hex')
      } finally {
        await src.close()
      }
    }
    // Recorded before the output can go anywhere, so every pseudonym that leaves can be traced back on site.
    if (o.reid) recordDeidentified(o.reid, source.dataset, report, o.collection)
    let findings: Finding[]
    try {
      if (!written) {
        const out = await FileSource.open(output)
        try {
          written = await readDicom(out, { bulkDataThreshold: VERIFY_BULK_THRESHOLD })
        } finally {
          await out.close()
        }
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

/** The whole file when it is at most SMALL_OBJECT_BYTES, else null (one open, its fstat, reads, one close). */
function readIfSmall(path: string): Buffer | null {
  const fd = openSync(path, 'r')
  try {
    const size = fstatSync(fd).size
    if (size > SMALL_OBJECT_BYTES) return null
    const buf = Buffer.allocUnsafe(size)
    let got = 0
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, got)
      if (n === 0) break
      got += n
    }
    return got === size ? buf : buf.subarray(0, got)
  } finally {
    closeSync(fd)
  }
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
