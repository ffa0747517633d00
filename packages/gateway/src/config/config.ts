/**
 * @module The gateway's one configuration file (YAML): what it is, where it sends, what it takes, and its limits.
 *
 * Relative paths are resolved against the folder of the configuration file, so a site can move the whole
 * installation folder. Validation collects every problem before failing, so an operator fixes the file once.
 */
import { readFileSync } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { ConfigErrors, type ConfigProblem } from './errors.ts'
import { parseBytes, parseWindow, type TimeWindow } from './units.ts'

export interface DicomSourceConfig {
  aeTitle: string
  port: number
  host: string
  /** Empty: any calling AE may associate. */
  allowedCallingAEs: string[]
}

export interface FolderSourceConfig {
  path: string
  /** A file is taken once its size and mtime have not changed for this long. */
  settleSeconds: number
  /** Remove the hospital's file after it is safely in the spool. Default false: never touch their files. */
  deleteAfterTake: boolean
}

/** An SS-MIX2 standardized storage tree (`root/ID[0:3]/ID[3:6]/ID/date/type/file`), read in place, never changed. */
export interface Ssmix2SourceConfig {
  /** The storage root. */
  path: string
  /** Full rescans for new and changed message files, this often. */
  rescanSeconds: number
  /** A message file is taken once its size and mtime have not changed for this long. */
  settleSeconds: number
}

/** A folder where a departmental system drops its exports (CSV/TSV/XML), read through a declarative adapter. */
export interface VendorExportSourceConfig {
  path: string
  /** The adapter file (YAML) mapping this vendor's layout, codes, dates and encoding to the standard record. */
  adapter: string
  settleSeconds: number
  rescanSeconds: number
}

/** A folder where slide scanners write: SVS, NDPI, tiled TIFF/BigTIFF files, and DICOM WSI folders (one folder per slide). */
export interface SlideSourceConfig {
  path: string
  /** A slide is taken once its file (or every file of its DICOM WSI folder) has not changed for this long. */
  settleSeconds: number
  /** Remove the scanner's file or folder after the slide is safely in the spool. Default false. */
  deleteAfterTake: boolean
}

export interface GatewayConfig {
  /** The configuration file, absolute. */
  file: string
  site: string
  hub: { url: string; tokenFile: string }
  collection: string
  deid: {
    /** `basic` or an absolute policy file path. */
    policy: string
    secretFile: string
    reid: { table: string; keyFile: string } | null
  }
  spool: string
  sources: { dicom: DicomSourceConfig | null; folders: FolderSourceConfig[]; ssmix2: Ssmix2SourceConfig[]; vendorExports: VendorExportSourceConfig[]; slides: SlideSourceConfig[] }
  limits: {
    concurrency: number
    /** Default cap outside every window; 0 = no cap. */
    bandwidthBytesPerSec: number
    windows: TimeWindow[]
    minFreeDiskBytes: number
    /** Objects above this travel alone, in chunks; smaller ones of a series are bundled. */
    largeObjectBytes: number
    /** Most bytes in one bundle. */
    bundleBytes: number
    /** Bytes per PATCH. */
    chunkBytes: number
  }
  status: { host: string; port: number }
}

const AE = /^[\x20-\x5b\x5d-\x7e]{1,16}$/
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Validates a parsed YAML document; `file` anchors relative paths and names the file in errors. */
export function parseGatewayConfig(doc: unknown, file: string): GatewayConfig {
  const base = dirname(resolve(file))
  const problems: ConfigProblem[] = []
  const bad = (field: string, message: string) => problems.push({ field, message })
  const root: Obj = isObj(doc) ? doc : (bad('(file)', 'must be a YAML mapping of settings'), {})
  const known = new Set(['site', 'hub', 'collection', 'deid', 'spool', 'sources', 'limits', 'status'])
  for (const k of Object.keys(root)) if (!known.has(k)) bad(k, `unknown setting (known: ${[...known].join(', ')})`)

  const str = (o: Obj, key: string, field: string, opts: { required?: boolean; dflt?: string } = {}): string => {
    const v = o[key]
    if (v === undefined || v === null || v === '') {
      if (opts.required !== false && opts.dflt === undefined) bad(field, 'is required')
      return opts.dflt ?? ''
    }
    if (typeof v !== 'string') { bad(field, 'must be text'); return '' }
    return v
  }
  const path = (o: Obj, key: string, field: string, required = true): string => {
    const v = str(o, key, field, { required })
    return v === '' ? '' : isAbsolute(v) ? v : resolve(base, v)
  }
  const int = (o: Obj, key: string, field: string, dflt: number, min: number, max: number): number => {
    const v = o[key]
    if (v === undefined || v === null) return dflt
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) { bad(field, `must be a whole number from ${min} to ${max}`); return dflt }
    return v
  }
  const bytes = (o: Obj, key: string, field: string, dflt: number): number => {
    const v = o[key]
    if (v === undefined || v === null) return dflt
    const n = parseBytes(v)
    if (n === null) { bad(field, `"${String(v)}" is not a size; write a number of bytes or e.g. 2MB, 512KiB, 1GB`); return dflt }
    return n
  }
  const section = (key: string): Obj => {
    const v = root[key]
    if (v === undefined || v === null) return {}
    if (!isObj(v)) { bad(key, 'must be a mapping'); return {} }
    return v
  }

  const site = str(root, 'site', 'site')
  if (site && !NAME.test(site)) bad('site', 'must be 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit')
  const collection = str(root, 'collection', 'collection')
  if (collection && !NAME.test(collection)) bad('collection', 'must be 1–64 letters, digits, ".", "_" or "-"')

  const hub = section('hub')
  let url = str(hub, 'url', 'hub.url')
  if (url) {
    try {
      const u = new URL(url)
      if (u.protocol !== 'https:' && u.protocol !== 'http:') bad('hub.url', 'must be an http(s) URL')
      if (u.protocol === 'http:' && !['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) bad('hub.url', 'must be https:// (plain http is allowed only to this machine)')
      url = url.replace(/\/+$/, '')
    } catch {
      bad('hub.url', `"${url}" is not a URL; give the hub's address, e.g. https://hub.example.org`)
    }
  }
  const tokenFile = path(hub, 'tokenFile', 'hub.tokenFile')

  const deid = section('deid')
  const policyRaw = str(deid, 'policy', 'deid.policy', { dflt: 'basic' })
  const policy = policyRaw === 'basic' ? 'basic' : isAbsolute(policyRaw) ? policyRaw : resolve(base, policyRaw)
  const secretFile = path(deid, 'secretFile', 'deid.secretFile')
  let reid: GatewayConfig['deid']['reid'] = null
  if (deid.reid !== undefined && deid.reid !== null) {
    if (!isObj(deid.reid)) bad('deid.reid', 'must be a mapping with table and keyFile')
    else reid = { table: path(deid.reid, 'table', 'deid.reid.table'), keyFile: path(deid.reid, 'keyFile', 'deid.reid.keyFile') }
  }

  const spool = path(root, 'spool', 'spool')

  const sources = section('sources')
  let dicom: DicomSourceConfig | null = null
  if (sources.dicom !== undefined && sources.dicom !== null) {
    if (!isObj(sources.dicom)) bad('sources.dicom', 'must be a mapping (aeTitle, port, allowedCallingAEs)')
    else {
      const d = sources.dicom
      const aeTitle = str(d, 'aeTitle', 'sources.dicom.aeTitle', { dflt: 'KURA' })
      if (!AE.test(aeTitle) || aeTitle.trim() !== aeTitle) bad('sources.dicom.aeTitle', 'must be 1–16 printable characters without backslash or surrounding spaces')
      const allowed = d.allowedCallingAEs ?? []
      const list: string[] = []
      if (!Array.isArray(allowed)) bad('sources.dicom.allowedCallingAEs', 'must be a list of AE titles')
      else allowed.forEach((a, i) => {
        if (typeof a !== 'string' || !AE.test(a)) bad(`sources.dicom.allowedCallingAEs[${i}]`, 'is not a valid AE title')
        else list.push(a)
      })
      dicom = { aeTitle, port: int(d, 'port', 'sources.dicom.port', 11112, 0, 65535), host: str(d, 'host', 'sources.dicom.host', { dflt: '0.0.0.0' }), allowedCallingAEs: list }
    }
  }
  const folders: FolderSourceConfig[] = []
  if (sources.folders !== undefined && sources.folders !== null) {
    if (!Array.isArray(sources.folders)) bad('sources.folders', 'must be a list of { path, settleSeconds }')
    else sources.folders.forEach((f, i) => {
      const field = `sources.folders[${i}]`
      if (!isObj(f)) { bad(field, 'must be a mapping with path and settleSeconds'); return }
      const p = path(f, 'path', `${field}.path`)
      const del = f.deleteAfterTake ?? false
      if (typeof del !== 'boolean') bad(`${field}.deleteAfterTake`, 'must be true or false')
      folders.push({ path: p, settleSeconds: int(f, 'settleSeconds', `${field}.settleSeconds`, 10, 0, 86400), deleteAfterTake: del === true })
    })
  }
  const list = (key: string, what: string): Obj[] => {
    const v = sources[key]
    if (v === undefined || v === null) return []
    if (!Array.isArray(v)) { bad(`sources.${key}`, `must be a list of ${what}`); return [] }
    return v.filter((e, i) => isObj(e) || (bad(`sources.${key}[${i}]`, `must be a mapping (${what})`), false)) as Obj[]
  }
  const ssmix2: Ssmix2SourceConfig[] = list('ssmix2', '{ path, rescanSeconds, settleSeconds }').map((e, i) => ({
    path: path(e, 'path', `sources.ssmix2[${i}].path`),
    rescanSeconds: int(e, 'rescanSeconds', `sources.ssmix2[${i}].rescanSeconds`, 300, 1, 86400),
    settleSeconds: int(e, 'settleSeconds', `sources.ssmix2[${i}].settleSeconds`, 10, 0, 86400),
  }))
  const vendorExports: VendorExportSourceConfig[] = list('vendorExports', '{ path, adapter, settleSeconds }').map((e, i) => ({
    path: path(e, 'path', `sources.vendorExports[${i}].path`),
    adapter: path(e, 'adapter', `sources.vendorExports[${i}].adapter`),
    settleSeconds: int(e, 'settleSeconds', `sources.vendorExports[${i}].settleSeconds`, 10, 0, 86400),
    rescanSeconds: int(e, 'rescanSeconds', `sources.vendorExports[${i}].rescanSeconds`, 30, 1, 86400),
  }))
  const slides: SlideSourceConfig[] = list('slides', '{ path, settleSeconds }').map((e, i) => {
    const del = e.deleteAfterTake ?? false
    if (typeof del !== 'boolean') bad(`sources.slides[${i}].deleteAfterTake`, 'must be true or false')
    // Scanners write a slide for minutes: the default waits longer than for single DICOM files.
    return { path: path(e, 'path', `sources.slides[${i}].path`), settleSeconds: int(e, 'settleSeconds', `sources.slides[${i}].settleSeconds`, 60, 0, 86400), deleteAfterTake: del === true }
  })
  const knownSources = ['dicom', 'folders', 'ssmix2', 'vendorExports', 'slides']
  for (const k of Object.keys(sources)) if (!knownSources.includes(k)) bad(`sources.${k}`, `unknown source (known: ${knownSources.join(', ')})`)
  if (!dicom && folders.length === 0 && ssmix2.length === 0 && vendorExports.length === 0 && slides.length === 0) bad('sources', 'configure at least one source: dicom, folders, ssmix2, vendorExports or slides')

  const limits = section('limits')
  const windows: TimeWindow[] = []
  if (limits.windows !== undefined && limits.windows !== null) {
    if (!Array.isArray(limits.windows)) bad('limits.windows', 'must be a list like ["22:00-06:00 full"]')
    else limits.windows.forEach((w, i) => {
      const parsed = typeof w === 'string' ? parseWindow(w) : 'must be text like "22:00-06:00 full"'
      if (typeof parsed === 'string') bad(`limits.windows[${i}]`, parsed)
      else windows.push(parsed)
    })
  }
  // 64 MiB: a 1 GB upload ran at 95% of a plain PUT's rate with 64 MiB chunks vs 80% with 32 (load 2), 5.7 vs 8.0 s
  // median at load 9 (bench/README.md, gateway section); 8 MiB halved throughput. Buffers are min(chunk, object): a
  // bundle (≤ 64 MiB) needs the same either way; only objects > 64 MiB take 2 × 64 MiB, 512 MiB at 4 uploads at once.
  const chunkBytes = bytes(limits, 'chunkBytes', 'limits.chunkBytes', 64 * 1024 * 1024)
  if (chunkBytes < 64 * 1024) bad('limits.chunkBytes', 'must be at least 64KiB')
  const limitsOut: GatewayConfig['limits'] = {
    concurrency: int(limits, 'concurrency', 'limits.concurrency', 4, 1, 64),
    bandwidthBytesPerSec: bytes(limits, 'bandwidthBytesPerSec', 'limits.bandwidthBytesPerSec', 0),
    windows,
    minFreeDiskBytes: bytes(limits, 'minFreeDiskBytes', 'limits.minFreeDiskBytes', 1024 ** 3),
    largeObjectBytes: bytes(limits, 'largeObjectBytes', 'limits.largeObjectBytes', 64 * 1024 * 1024),
    bundleBytes: bytes(limits, 'bundleBytes', 'limits.bundleBytes', 64 * 1024 * 1024),
    chunkBytes,
  }
  for (const k of Object.keys(limits)) if (!(k in limitsOut)) bad(`limits.${k}`, `unknown limit (known: ${Object.keys(limitsOut).join(', ')})`)
  const status = section('status')
  const statusOut = { host: str(status, 'host', 'status.host', { dflt: '127.0.0.1' }), port: int(status, 'port', 'status.port', 8471, 0, 65535) }

  if (problems.length > 0) throw ConfigErrors.invalid(file, problems)
  return {
    file: resolve(file),
    site,
    hub: { url, tokenFile },
    collection,
    deid: { policy, secretFile, reid },
    spool,
    sources: { dicom, folders, ssmix2, vendorExports, slides },
    limits: limitsOut,
    status: statusOut,
  }
}

export function loadGatewayConfig(file: string): GatewayConfig {
  let doc: unknown
  try {
    doc = parseYaml(readFileSync(file, 'utf8'))
  } catch (e) {
    throw ConfigErrors.unreadable(file, e)
  }
  return parseGatewayConfig(doc, file)
}
