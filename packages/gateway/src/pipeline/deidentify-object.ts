/**
 * @module One spooled object through the engine: de-identify, verify independently, then either a durable
 * `clean/<sha256>.dcm` or `quarantine/<id>/` with `reason.json` (reasons only, never values). The same calls
 * as the offline `kura deid` (deidentify, collectIdentifiers, verifyDeidentified); anything unexpected
 * quarantines, because an object that is not known to be clean must never be uploaded.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises'
import { once } from 'node:events'
import { join } from 'node:path'
import { FileSource, isKuraError } from '@kura/core'
import { Tags, getString, readDicom, type DicomDataset, type ParsedDicom } from '@kura/dicom'
import { collectIdentifiers, deidentify, recordDeidentified, sourcesRetainedBy, verifyDeidentified, type DeidReport, type Policy, type ReidTable } from '@kura/deid'

/** Large enough that every text value is loaded for verification; pixel data is never loaded (as in `kura deid`). */
const VERIFY_BULK_THRESHOLD = 64 * 1024

export interface DeidSettings {
  policy: Policy
  secret: Uint8Array
  collection: string
  reid?: ReidTable
}

export type ObjectOutcome =
  | { kind: 'clean'; sha256: string; bytes: number; studyUid: string; seriesUid: string; sopUid: string; path: string }
  | { kind: 'quarantined'; reason: string; dir: string }

function errorText(e: unknown): string {
  if (isKuraError(e)) return `${e.message} [${e.code}]`
  return (e as Error)?.message ?? String(e)
}

async function fsyncPath(path: string): Promise<void> {
  const fd = await open(path, 'r')
  try { await fd.sync() } finally { await fd.close() }
}

const text = (ds: DicomDataset, tag: number) => (getString(ds, tag) ?? '').replace(/^[ \0]+|[ \0]+$/g, '')

/**
 * De-identifies `input` (object `id`) into `spoolDir`. Never throws for a bad object (it is quarantined);
 * throws only when the spool itself cannot be written (disk full, permissions), so the caller retries later.
 */
export async function deidentifyObject(spoolDir: string, id: string, input: string, s: DeidSettings): Promise<ObjectOutcome> {
  const cleanDir = join(spoolDir, 'clean')
  const tmp = join(cleanDir, `${randomBytes(8).toString('hex')}.tmp`)
  const quarantine = async (reason: string, findings: unknown[] = [], output?: string): Promise<ObjectOutcome> => {
    const dir = join(spoolDir, 'quarantine', id)
    await mkdir(dir, { recursive: true })
    if (output) await rename(output, join(dir, 'output.dcm'))
    const report = { id, reason, policy: { id: s.policy.id, version: s.policy.version }, collection: s.collection, findings, at: new Date().toISOString() }
    await writeFile(join(dir, 'reason.json'), JSON.stringify(report, null, 2) + '\n', { mode: 0o600 })
    // The source stays on site beside the reason, so an operator can re-run it under a corrected policy.
    await rename(input, join(dir, 'source.dcm')).catch(() => {})
    return { kind: 'quarantined', reason, dir }
  }

  const src = await FileSource.open(input)
  let source: ParsedDicom
  try {
    try {
      source = await readDicom(src)
    } catch (e) {
      return await quarantine(`not a readable DICOM file: ${errorText(e)}`)
    }
    let report: DeidReport
    const hash = createHash('sha256')
    let bytes = 0
    try {
      const r = await deidentify(source, src, { policy: s.policy, secret: s.secret, collection: s.collection })
      report = r.report
      const ws = createWriteStream(tmp, { flags: 'wx', mode: 0o600, flush: true })
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
      await rm(tmp, { force: true })
      if (isSpoolWriteError(e)) throw e
      return await quarantine(`the de-identification engine failed: ${errorText(e)}`)
    }
    let written: ParsedDicom
    let findings
    try {
      const out = await FileSource.open(tmp)
      try {
        written = await readDicom(out, { bulkDataThreshold: VERIFY_BULK_THRESHOLD })
        findings = verifyDeidentified(written, collectIdentifiers(source), { source, retainedSources: sourcesRetainedBy(s.policy.options) }).findings
      } finally {
        await out.close()
      }
    } catch (e) {
      await rm(tmp, { force: true })
      return await quarantine(`verification could not read the output: ${errorText(e)}`)
    }
    if (findings.length > 0) {
      return await quarantine(findings.map((f) => f.reason).join('; '), findings.map((f) => ({ path: f.path, keyword: f.keyword, kind: f.kind, reason: f.reason })), tmp)
    }
    const studyUid = text(written.dataset, Tags.StudyInstanceUID)
    const seriesUid = text(written.dataset, Tags.SeriesInstanceUID)
    const sopUid = text(written.dataset, Tags.SOPInstanceUID)
    if (!studyUid || !seriesUid || !sopUid) {
      return await quarantine('the object has no Study, Series or SOP Instance UID; the hub cannot index it', [], tmp)
    }
    // Recorded before the output can leave, so every pseudonym that leaves can be traced back on site.
    if (s.reid) recordDeidentified(s.reid, source.dataset, report, s.collection)
    const sha256 = hash.digest('hex')
    const path = join(cleanDir, `${sha256}.dcm`)
    await rename(tmp, path)
    await fsyncPath(cleanDir)
    return { kind: 'clean', sha256, bytes, studyUid, seriesUid, sopUid, path }
  } finally {
    await src.close()
    await rm(tmp, { force: true })
  }
}

function isSpoolWriteError(e: unknown): boolean {
  const code = (e as { code?: string })?.code
  return code === 'ENOSPC' || code === 'EACCES' || code === 'EROFS' || code === 'EDQUOT' || code === 'EIO'
}

