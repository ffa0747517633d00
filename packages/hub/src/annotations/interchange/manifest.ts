/**
 * @module Export files and their manifest. Every file is written through an `ExportFiles` sink that hashes the
 * bytes as they go to disk (SHA-256 and size), so the manifest is made from what was written, not recomputed.
 * The manifest records what makes an export reproducible (Kura version, parameters, vocabulary versions,
 * annotation set version, task) and nothing that changes from run to run (no time, no export id): the same
 * inputs give byte-identical files, manifest included.
 */
import { createHash } from 'node:crypto'
import { createWriteStream, readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { once } from 'node:events'
import type { Category } from './categories.ts'

export interface ManifestFile {
  path: string
  bytes: number
  sha256: string
}

export interface ExportManifest {
  format: 'kura-annotation-export/1'
  kuraVersion: string
  parameters: Record<string, unknown>
  taskId: string | null
  /** The catalog's latest annotation revision when the export read it (repository `annotationSetVersion`). */
  annotationSetVersion: number
  vocabularies: { system: string; versions: string[] }[]
  categories: Category[]
  /** How to read the masks. */
  masks: { pixel: string; background: number } | null
  slides: Record<string, unknown>[]
  /** Every file but manifest.json, sorted by path. */
  files: ManifestFile[]
}

export const KURA_VERSION: string = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version

/** Paths inside an export: relative, forward slashes, no `..`, only safe characters. */
export function checkExportPath(p: string): string {
  if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(p) || p.split('/').some((s) => s === '..' || s === '.')) throw new Error(`unsafe export path ${p}`)
  return p
}

/** Writes files under a folder, hashing each as it is written. */
export class ExportFiles {
  private readonly written = new Map<string, ManifestFile>()
  constructor(readonly root: string) {}

  private async target(path: string): Promise<string> {
    const abs = join(this.root, ...checkExportPath(path).split('/'))
    await mkdir(dirname(abs), { recursive: true })
    return abs
  }

  async write(path: string, data: Uint8Array | string): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
    await writeFile(await this.target(path), bytes)
    this.written.set(path, { path, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') })
  }

  /** A file written piece by piece (large GeoJSON and COCO documents never sit whole in memory). */
  async stream(path: string): Promise<{ write(s: string): Promise<void>; close(): Promise<void> }> {
    const out = createWriteStream(await this.target(path))
    const hash = createHash('sha256')
    let bytes = 0
    return {
      write: async (s: string) => {
        const b = Buffer.from(s, 'utf8')
        hash.update(b)
        bytes += b.length
        if (!out.write(b)) await once(out, 'drain')
      },
      close: async () => {
        out.end()
        await once(out, 'close')
        this.written.set(path, { path, bytes, sha256: hash.digest('hex') })
      },
    }
  }

  files(): ManifestFile[] {
    return [...this.written.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  }
}

export const MANIFEST = 'manifest.json'
