/**
 * @module Taking a file a scanner or an export tool has finished writing: the copy into the spool, hashed as it is
 * read, and the check that the source did not change meanwhile. Shared by the DICOM folder source and the slide
 * source.
 */
import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { once } from 'node:events'

/**
 * Copies `from` (seen settled at `size` and `mtimeMs`) to a new file `to` (flushed to disk on close), hashing the
 * bytes as they pass. Throws when the source changed while it was copied: not settled after all, so the caller
 * removes `to` and tries again on a later pass.
 */
export async function copySettled(from: string, to: string, size: number, mtimeMs: number): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256')
  let bytes = 0
  const ws = createWriteStream(to, { flags: 'wx', mode: 0o600, flush: true })
  const closed = once(ws, 'close')
  try {
    for await (const chunk of createReadStream(from, { highWaterMark: 1 << 20 })) {
      hash.update(chunk as Buffer)
      bytes += (chunk as Buffer).length
      if (!ws.write(chunk)) await once(ws, 'drain')
    }
  } finally {
    ws.end()
    await closed
  }
  const after = await stat(from)
  if (after.size !== size || after.mtimeMs !== mtimeMs || bytes !== size) throw new Error(`${from} changed while it was copied; it is taken once it has settled`)
  return { sha256: hash.digest('hex'), bytes }
}
