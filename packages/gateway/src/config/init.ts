/** @module `kura gateway init`: a commented, working configuration file, and the site secret it names. */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, relative, resolve } from 'node:path'
import { writeSecretFile } from '@kura/deid'
import { ConfigErrors } from './errors.ts'
import { loadGatewayConfig, type GatewayConfig } from './config.ts'

export interface InitOptions {
  out: string
  hub: string
  tokenFile: string
  collection: string
  site: string
  dicomPort: number
  spool: string
  /** Default `<out folder>/site-secret.key`. */
  secretFile?: string
  /** Watched folders to list (optional). */
  folders?: string[]
  statusPort?: number
}

/** A path as written in the file: relative to the config's folder when it lies below it. */
function shown(outDir: string, p: string): string {
  const abs = resolve(p)
  const rel = relative(outDir, abs)
  return rel && !rel.startsWith('..') ? rel : abs
}

const q = (s: string) => JSON.stringify(s)

export function configTemplate(o: InitOptions): string {
  const outDir = dirname(resolve(o.out))
  const secret = o.secretFile ?? resolve(outDir, 'site-secret.key')
  const folders = o.folders ?? []
  return `# Kura site gateway configuration (kura gateway --config ${shown(process.cwd(), o.out)}).
# Relative paths are relative to this file's folder.

# This facility's id; the hub's site_uploader token is bound to it.
site: ${q(o.site)}

hub:
  # The hub's address (https://; plain http only to this machine).
  url: ${q(o.hub)}
  # File holding the API token (Authorization: Bearer kura_...); keep it mode 0600.
  tokenFile: ${q(shown(outDir, o.tokenFile))}

# The collection everything is uploaded into; pseudonyms differ per collection.
collection: ${q(o.collection)}

deid:
  # "basic" (PS3.15 Basic Profile) or a policy file (see packages/deid/policies/example.yaml).
  policy: basic
  # Site secret behind the keyed pseudonyms and date shifts. Back it up: pseudonyms depend on it.
  secretFile: ${q(shown(outDir, secret))}
  # Re-identification table (encrypted, stays on site) and the operator key sealing it. Optional.
  # reid:
  #   table: reid.sqlite
  #   keyFile: /secure/operator.key

# Where received objects wait: journal/ and incoming/ (as received), clean/ (de-identified), quarantine/
# and the outbox database.
spool: ${q(shown(outDir, o.spool))}

sources:
  # DICOM C-ECHO / C-STORE SCP that PACS, modalities and endoscopy systems push to.
  dicom:
    aeTitle: KURA
    port: ${o.dicomPort}
    # Calling AE titles allowed to associate; empty allows any.
    allowedCallingAEs: []
  # Watched folders (scanner and export drops). Files are copied, never moved, unless deleteAfterTake: true.
  folders:${folders.length === 0 ? ' []' : ''}
${folders.map((f) => `    - path: ${q(shown(outDir, f))}\n      settleSeconds: 10`).join('\n')}${folders.length ? '\n' : ''}  #   - path: /mnt/export
  #     settleSeconds: 10      # taken once size and mtime are unchanged this long
  # SS-MIX2 standardized storage trees (HL7 v2.5 messages, ISO-2022-JP), read in place and never changed.
  # Rescanned for new and changed message files; what was taken is remembered across restarts. Files whose
  # condition flag marks them deleted are skipped; a newer message for the same order supersedes at the hub.
  ssmix2: []
  #   - path: /mnt/ssmix2
  #     rescanSeconds: 300     # full rescan this often
  #     settleSeconds: 10
  # Vendor export folders (endoscopy/pathology/radiology department systems, CSV/TSV/XML): each file is read
  # row by row through a declarative adapter (field map, code map, date formats, encoding). A row that does
  # not map or validate is held on the gateway with its reasons (kura gateway status), never dropped.
  vendorExports: []
  #   - path: /mnt/endo-export
  #     adapter: adapters/vendor-a.yaml
  #     settleSeconds: 10
  # Slide scanner output: SVS, NDPI, tiled TIFF/BigTIFF files, and DICOM WSI folders (one folder of instances
  # per slide). Label and macro images (DICOM: LABEL/OVERVIEW instances) are removed and identifying text
  # blanked; a slide that cannot be verified clean stays in the spool's quarantine with its reason.
  slides: []
  #   - path: /mnt/scanner-out
  #     settleSeconds: 60      # taken once the file (or every file of its folder) is unchanged this long

limits:
  # Uploads in flight at once.
  concurrency: 4
  # Cap outside the windows below: bytes per second, or e.g. 2MB/s; 0 = no cap.
  bandwidthBytesPerSec: 0
  # Times of day (local) with their own cap, first match wins, e.g. full speed at night:
  windows: []
  #  - "22:00-06:00 full"
  #  - "06:00-22:00 2MB/s"
  # Stop taking new objects below this much free disk on the spool.
  minFreeDiskBytes: 1GB

# Local status: http://127.0.0.1:<port>/status (JSON) and /metrics (Prometheus).
status:
  port: ${o.statusPort ?? 8471}
`
}

/** Writes the configuration (never over an existing one) and creates the site secret if missing. */
export function initGatewayConfig(o: InitOptions): { config: GatewayConfig; secretCreated: boolean } {
  const out = resolve(o.out)
  if (existsSync(out)) throw ConfigErrors.exists(o.out)
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, configTemplate(o), { flag: 'wx', mode: 0o640 })
  const config = loadGatewayConfig(out)
  let secretCreated = false
  if (!existsSync(config.deid.secretFile)) {
    mkdirSync(dirname(config.deid.secretFile), { recursive: true })
    writeSecretFile(config.deid.secretFile)
    secretCreated = true
  }
  return { config, secretCreated }
}
