/**
 * @module `kura annotations import|export`: annotation files in and out of a running hub, over its HTTP API with
 * a token (KURA_TOKEN), so permissions and the audit log apply exactly as for any other client. Nothing here reads
 * the catalog directly: the hub's machine uses the same command against its own URL.
 */
import { createWriteStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { KuraError } from '@kura/core'
import { choiceFlag, intFlag, parseFlags, UsageError, urlFlag } from '../args.ts'

/** The hub refused or failed: exit 1 (the command line itself was fine). */
const hubError = (message: string, code = 'CLI_HUB_REFUSED') => new KuraError(code, message)

export const help = `Usage: kura annotations import FILE --slide ID [--format F] [--labels MAP.json] [--on-unmapped refuse|hold]
                               [--status S] [--task ID] --url URL
       kura annotations export --slide ID [--format geojson|coco] [--container C] [--out FILE] --url URL
       kura annotations export --slides ID,ID... --out FILE.tar [--formats geojson,coco,csv,tiles]
                               [--tile-size N] [--mpp M | --magnification X] [--keep-empty]
                               [--statuses accepted,...] [--task ID] --url URL

Annotation interchange with a running hub (send KURA_TOKEN as the bearer token; the caller needs
annotation:write to import and study:read to export).

import   Reads FILE (--format qupath (default), cytomine, asap or sectra) onto the slide. Class names
         become vocabulary codes through --labels, a JSON file {"<class>": {"system": "...", "code": "..."}}
         ("" is the key for objects without a class). An unmapped class refuses the whole file
         (the answer lists each class and its count) unless --on-unmapped hold.
export   With --slide: one slide's annotations as QuPath GeoJSON (--container FeatureCollection,
         FeatureArray or Feature) or COCO, to --out or stdout. With --slides: an AI export on the hub
         (GeoJSON, COCO, image-label CSV, tiles with masks at --mpp or --magnification, tiles of
         --tile-size px, empty tiles left out unless --keep-empty), waited for and saved as a tar
         with manifest.json (SHA-256 of every file).

Options:
  --url URL      The hub, e.g. http://127.0.0.1:8080 (or KURA_URL).
  --help         Show this help.
`

function client(url: string) {
  const token = process.env.KURA_TOKEN
  return async (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers)
    if (token) headers.set('authorization', `Bearer ${token}`)
    const res = await fetch(`${url}${path}`, { ...init, headers })
    if (!res.ok && res.status !== 202) {
      const body = (await res.json().catch(() => ({}))) as { code?: string; message?: string; unmapped?: { className: string; count: number }[] }
      const unmapped = body.unmapped?.map((u) => `  "${u.className}" ×${u.count}`).join('\n')
      throw hubError(`The hub answered ${res.status}${body.code ? ` ${body.code}` : ''}: ${body.message ?? res.statusText}${unmapped ? `\nUnmapped classes:\n${unmapped}` : ''}`)
    }
    return res
  }
}

async function save(res: Response, out: string | undefined): Promise<void> {
  const body = Readable.fromWeb(res.body as never)
  await pipeline(body, out ? createWriteStream(out) : process.stdout)
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    'annotations',
    argv,
    {
      url: { type: 'string' },
      slide: { type: 'string' },
      slides: { type: 'string' },
      format: { type: 'string' },
      formats: { type: 'string' },
      labels: { type: 'string' },
      'on-unmapped': { type: 'string' },
      status: { type: 'string' },
      statuses: { type: 'string' },
      task: { type: 'string' },
      container: { type: 'string' },
      out: { type: 'string' },
      'tile-size': { type: 'string' },
      mpp: { type: 'string' },
      magnification: { type: 'string' },
      'keep-empty': { type: 'boolean' },
    },
    true,
  )
  const [action, file] = positionals
  const rawUrl = values.url ?? process.env.KURA_URL
  if (!rawUrl) throw new UsageError('--url is required: the hub to talk to (or set KURA_URL).')
  const url = urlFlag('annotations', rawUrl).replace(/\/$/, '')
  const call = client(url)

  if (action === 'import') {
    if (!file || !values.slide) throw new UsageError('annotations import needs FILE and --slide ID. Run "kura annotations --help".')
    const format = choiceFlag('annotations', 'format', values.format, ['qupath', 'cytomine', 'asap', 'sectra'] as const, 'qupath')
    const policy = choiceFlag('annotations', 'on-unmapped', values['on-unmapped'], ['refuse', 'hold'] as const, 'refuse')
    const q = new URLSearchParams({ format, onUnmapped: policy })
    if (values.labels) q.set('labels', await readFile(values.labels, 'utf8'))
    if (values.status) q.set('status', values.status)
    if (values.task) q.set('taskId', values.task)
    const res = await call(`/api/slides/${encodeURIComponent(values.slide)}/annotations/import?${q}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: await readFile(file) })
    const r = (await res.json()) as { imported: number; held: number; unmapped: { className: string; count: number }[] }
    process.stdout.write(`Imported ${r.imported} annotation(s)${r.held ? `; held back ${r.held} with unmapped classes: ${r.unmapped.map((u) => `"${u.className}" ×${u.count}`).join(', ')}` : ''}.\n`)
    return r.held ? 1 : 0
  }

  if (action === 'export' && values.slide) {
    const format = choiceFlag('annotations', 'format', values.format, ['geojson', 'coco'] as const, 'geojson')
    const q = new URLSearchParams({ format })
    if (values.container) q.set('container', values.container)
    if (values.statuses) q.set('status', values.statuses)
    if (values.task) q.set('task', values.task)
    await save(await call(`/api/slides/${encodeURIComponent(values.slide)}/annotations/export?${q}`), values.out)
    return 0
  }

  if (action === 'export' && values.slides) {
    if (!values.out) throw new UsageError('--out FILE.tar is required for an AI export.')
    const formats = (values.formats ?? 'geojson,coco,csv').split(',').map((s) => s.trim())
    const tiles: Record<string, unknown> = { size: intFlag('annotations', 'tile-size', values['tile-size'], 512, 16, 4096), skipEmpty: !values['keep-empty'] }
    if (values.mpp) tiles.mpp = Number(values.mpp)
    if (values.magnification) tiles.magnification = Number(values.magnification)
    const body = { slides: values.slides.split(',').map((s) => s.trim()), formats, tiles, taskId: values.task ?? null, ...(values.statuses ? { statuses: values.statuses.split(',') } : {}) }
    const { id } = (await (await call('/api/exports', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json()) as { id: string }
    process.stderr.write(`kura: export ${id} running on the hub…\n`)
    for (;;) {
      const s = (await (await call(`/api/exports/${id}`)).json()) as { status: string; error?: { code: string; message: string }; manifest?: { files: unknown[] } }
      if (s.status === 'failed') throw hubError(`The export failed: ${s.error?.code ?? ''} ${s.error?.message ?? ''}`)
      if (s.status === 'done') {
        await save(await call(`/api/exports/${id}/archive`), values.out)
        process.stdout.write(`Saved export ${id} (${s.manifest!.files.length} files and manifest.json) to ${values.out}.\n`)
        return 0
      }
      await new Promise((r) => setTimeout(r, 500))
    }
  }
  throw new UsageError('Say what to do: "kura annotations import FILE --slide ID" or "kura annotations export --slide ID" / "--slides ID,...". Run "kura annotations --help".')
}
