/**
 * @module Finding the files to import: arguments may be files or folders, walked recursively
 * in a stable (sorted) order, skipping what is never a DICOM instance.
 */
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { UsageError } from './args.ts'

export interface FoundFile {
  path: string
  size: number
}

export interface WalkResult {
  files: FoundFile[]
  /** Files inside folders left out on purpose (hidden files, DICOMDIR). */
  skipped: string[]
}

/** DICOMDIR indexes removable media; it is not an instance and would only show up as rejected. */
function skippedName(name: string): boolean {
  return name.startsWith('.') || name.toUpperCase() === 'DICOMDIR' || name === 'Thumbs.db'
}

export async function walk(paths: string[]): Promise<WalkResult> {
  const files: FoundFile[] = []
  const skipped: string[] = []
  const visit = async (dir: string) => {
    const entries = await readdir(dir, { withFileTypes: true })
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (const e of entries) {
      const p = join(dir, e.name)
      if (skippedName(e.name)) {
        if (!e.isDirectory()) skipped.push(p)
        continue
      }
      if (e.isDirectory()) await visit(p)
      else if (e.isFile() || e.isSymbolicLink()) {
        try {
          const st = await stat(p)
          if (st.isFile()) files.push({ path: p, size: st.size })
          else if (st.isDirectory()) await visit(p)
        } catch {
          skipped.push(p) // a dangling link
        }
      }
    }
  }
  for (const p of paths) {
    let st
    try {
      st = await stat(p)
    } catch {
      throw new UsageError(`"${p}" does not exist (or cannot be read).`)
    }
    if (st.isDirectory()) await visit(p)
    else files.push({ path: p, size: st.size }) // named explicitly: always sent
  }
  return { files, skipped }
}
