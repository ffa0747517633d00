/**
 * @module What a slide scanner's output folder holds, slide by slide: TIFF-family files (SVS, NDPI, tiled TIFF and
 * BigTIFF, told apart by their header, whatever the extension) are one slide each; a folder holding DICOM files is
 * one DICOM WSI (its instances, subfolders not included). Each slide comes with a fingerprint (bytes, newest
 * mtime, file count) that settles when the scanner is done and that the outbox remembers once it is taken.
 */
import { readdir, stat } from 'node:fs/promises'
import { isDicomHeader, isTiffHeader, readHead } from '@kura/core'
import { join } from 'node:path'

export interface SlideFile {
  path: string
  size: number
  mtimeMs: number
}

export interface FoundSlide {
  kind: 'file' | 'dicom-folder'
  /** The slide file, or the DICOM WSI folder. */
  path: string
  /** The file itself, or the folder's DICOM files (sorted by path). */
  files: SlideFile[]
  /** Total bytes, newest mtime: what settles, and what "taken" remembers. */
  size: number
  mtimeMs: number
}

/** Names scanners and copy tools use for files still being written, and what is never a slide. */
const SKIP = /(^\.|\.part$|\.tmp$|\.partial$|\.crdownload$|^DICOMDIR$|^Thumbs\.db$)/i


/**
 * Every slide under `root`. A file too short to tell yet (a scanner just created it) is left for a later pass;
 * a file that is neither TIFF nor DICOM is not a slide and is ignored.
 */
export async function findSlides(root: string): Promise<FoundSlide[]> {
  const out: FoundSlide[] = []
  const visit = async (dir: string, depth: number): Promise<void> => {
    let entries
    try {
      entries = await readdir(dir, { withFileTypes: true })
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return // not there (yet), or removed while we looked
      throw e
    }
    const dicom: SlideFile[] = []
    let pending = false
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (SKIP.test(e.name)) {
        if (e.isFile() && /\.(part|tmp|partial|crdownload)$/i.test(e.name)) pending = true
        continue
      }
      const p = join(dir, e.name)
      if (e.isDirectory()) {
        if (depth < 8) await visit(p, depth + 1)
        continue
      }
      if (!e.isFile()) continue
      let st
      let b
      try {
        st = await stat(p)
        b = await readHead(p, 132)
      } catch {
        continue // gone meanwhile
      }
      const f = { path: p, size: st.size, mtimeMs: st.mtimeMs }
      if (isDicomHeader(b)) dicom.push(f)
      else if (isTiffHeader(b)) out.push({ kind: 'file', path: p, files: [f], size: f.size, mtimeMs: f.mtimeMs })
      else if (b.length < 132 && dir !== root) pending = true // a DICOM file whose preamble is not written yet
    }
    // A folder whose copy is still in progress (a .part beside the instances) is not a slide yet. DICOM files
    // straight in the watched folder belong to no slide folder: they are left for the `folders` source.
    if (dicom.length > 0 && dir !== root && !pending) {
      out.push({ kind: 'dicom-folder', path: dir, files: dicom, size: dicom.reduce((n, f) => n + f.size, 0), mtimeMs: Math.max(...dicom.map((f) => f.mtimeMs)) })
    }
  }
  await visit(root, 0)
  return out
}
