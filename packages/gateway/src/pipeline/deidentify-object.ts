/**
 * @module One spooled object through the engine (`deidentifyFile` from @kura/deid: de-identify, record pseudonyms,
 * verify independently, the same sequence as the offline `kura deid`), then either a durable
 * `clean/<sha256>.dcm` or `quarantine/<id>/` with `reason.json` (reasons only, never values). Anything unexpected
 * quarantines, because an object that is not known to be clean must never be uploaded.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Tags, getString, type DicomDataset } from '@kura/dicom'
import { deidentifyFile, type Policy, type ReidTable } from '@kura/deid'

export interface DeidSettings {
  policy: Policy
  secret: Uint8Array
  collection: string
  reid?: ReidTable
}

export type ObjectOutcome =
  | { kind: 'clean'; sha256: string; bytes: number; studyUid: string; seriesUid: string; sopUid: string; path: string }
  | { kind: 'quarantined'; reason: string; dir: string }

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

  try {
    const r = await deidentifyFile(input, tmp, { policy: s.policy, secret: s.secret, collection: s.collection, reid: s.reid, durable: true })
    if (r.kind === 'unreadable' || r.kind === 'failed') return await quarantine(r.reason)
    if (r.kind === 'quarantined') {
      return await quarantine(r.findings.map((f) => f.reason).join('; '), r.findings.map((f) => ({ path: f.path, keyword: f.keyword, kind: f.kind, reason: f.reason })), tmp)
    }
    const studyUid = text(r.written.dataset, Tags.StudyInstanceUID)
    const seriesUid = text(r.written.dataset, Tags.SeriesInstanceUID)
    const sopUid = text(r.written.dataset, Tags.SOPInstanceUID)
    if (!studyUid || !seriesUid || !sopUid) {
      return await quarantine('the object has no Study, Series or SOP Instance UID; the hub cannot index it', [], tmp)
    }
    const path = join(cleanDir, `${r.sha256}.dcm`)
    await rename(tmp, path)
    await fsyncPath(cleanDir)
    return { kind: 'clean', sha256: r.sha256, bytes: r.bytes, studyUid, seriesUid, sopUid, path }
  } finally {
    await rm(tmp, { force: true })
  }
}
