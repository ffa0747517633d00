/**
 * @module `kura gateway`: run the site gateway from its configuration file, write a first configuration
 * (`init`), or show its status (`status`, from the running gateway's local endpoint, else from the outbox).
 */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { createLogger } from '@kura/core'
import { UsageError, intFlag, parseFlags } from '../args.ts'

export const help = `Usage: kura gateway [--config FILE]
       kura gateway init --hub URL --token-file F --collection C --site S --dicom-port P --spool DIR --out FILE
       kura gateway status [--config FILE] [--json]

Runs the site gateway: receives DICOM (C-STORE SCP) and files from watched folders, de-identifies and
verifies each object on site, and uploads the clean ones to the hub (resumable, verified, idempotent).
Objects that fail verification stay in the spool's quarantine/ with the reason and are never uploaded.
Stops cleanly on SIGINT/SIGTERM; after a crash or power loss it resumes where it was.

Options:
  --config FILE     The gateway's configuration (default ./gateway.yaml).

kura gateway init: writes a commented, working configuration (never over an existing file) and creates the
site secret it names if missing (mode 0600; back it up: pseudonyms depend on it).
  --hub URL         The hub's address (https://; http only to this machine).
  --token-file F    File holding the hub API token (a site_uploader token).
  --collection C    The collection to upload into.
  --site S          This facility's id.
  --dicom-port P    Port of the DICOM receiver (AE title KURA; change it in the file).
  --spool DIR       Where objects wait (incoming/, clean/, quarantine/, outbox.sqlite).
  --out FILE        The configuration file to write.
  --secret-file F   The site secret (default site-secret.key beside the configuration).
  --folder DIR      A folder to watch (repeatable).
  --status-port P   Local status port (default 8471).

kura gateway status: per source and per state counts and bytes, the oldest waiting object, the last errors and
the quarantine. Asks the running gateway (http://127.0.0.1:<status.port>/status); reads the outbox when it is
not running. --json prints the JSON document.`

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'init') return runInit(argv.slice(1))
  if (argv[0] === 'status') return runStatus(argv.slice(1))
  const { values, positionals } = parseFlags('gateway', argv, { config: { type: 'string', short: 'c' } }, true)
  if (positionals.length > 0) throw new UsageError(`Unknown gateway command "${positionals[0]}". Run "kura gateway --help".`)
  const { loadGatewayConfig } = await import('@kura/gateway')
  const file = configPath(values.config)
  const config = loadGatewayConfig(file)
  const { startGateway } = await import('@kura/gateway')
  const log = createLogger(undefined, { component: 'gateway', site: config.site })
  const gw = await startGateway(config, { log })
  process.stdout.write(`Gateway ${config.site} running: uploading to ${config.hub.url} (collection ${config.collection})${gw.dimse ? `, DICOM ${config.sources.dicom!.aeTitle} on port ${gw.dimse.port}` : ''}${gw.folders.length ? `, watching ${gw.folders.length} folder(s)` : ''}; status on http://${config.status.host}:${gw.statusServer?.port}/status\n`)
  await new Promise<void>((resolveStop) => {
    const onSignal = () => resolveStop()
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
  })
  process.stdout.write('Stopping the gateway (work in progress is kept and resumes at the next start)...\n')
  await gw.stop()
  return 0
}

function configPath(flag: string | undefined): string {
  const file = resolve(flag ?? 'gateway.yaml')
  if (!existsSync(file)) throw new UsageError(`No gateway configuration at ${file}. Write one with "kura gateway init ... --out ${flag ?? 'gateway.yaml'}" or pass --config FILE.`)
  return file
}

async function runInit(argv: string[]): Promise<number> {
  const { values } = parseFlags('gateway', argv, {
    hub: { type: 'string' },
    'token-file': { type: 'string' },
    collection: { type: 'string' },
    site: { type: 'string' },
    'dicom-port': { type: 'string' },
    spool: { type: 'string' },
    out: { type: 'string' },
    'secret-file': { type: 'string' },
    folder: { type: 'string', multiple: true },
    'status-port': { type: 'string' },
  })
  const missing = ['hub', 'token-file', 'collection', 'site', 'dicom-port', 'spool', 'out'].filter((k) => values[k as keyof typeof values] === undefined)
  if (missing.length > 0) throw new UsageError(`kura gateway init needs ${missing.map((m) => `--${m}`).join(', ')}. Run "kura gateway --help".`)
  const { initGatewayConfig } = await import('@kura/gateway')
  const { config, secretCreated } = initGatewayConfig({
    out: values.out!,
    hub: values.hub!,
    tokenFile: values['token-file']!,
    collection: values.collection!,
    site: values.site!,
    dicomPort: intFlag('gateway', 'dicom-port', values['dicom-port'], 11112, 0, 65535),
    spool: values.spool!,
    secretFile: values['secret-file'],
    folders: values.folder,
    statusPort: intFlag('gateway', 'status-port', values['status-port'], 8471, 0, 65535),
  })
  process.stdout.write(`Wrote ${values.out}.${secretCreated ? ` Created the site secret ${config.deid.secretFile} (mode 0600; back it up).` : ''}\nStart the gateway with: kura gateway --config ${values.out}\n`)
  return 0
}

async function runStatus(argv: string[]): Promise<number> {
  const { values } = parseFlags('gateway', argv, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } })
  const { loadGatewayConfig } = await import('@kura/gateway')
  const config = loadGatewayConfig(configPath(values.config))
  const { collectStatus, formatStatus } = await import('@kura/gateway')
  let status: import('@kura/gateway').GatewayStatus | null = null
  try {
    const res = await fetch(`http://${config.status.host === '0.0.0.0' ? '127.0.0.1' : config.status.host}:${config.status.port}/status`, { signal: AbortSignal.timeout(2000) })
    if (res.ok) status = (await res.json()) as typeof status
  } catch { /* not running: read the outbox */ }
  if (!status) {
    if (!existsSync(resolve(config.spool, 'outbox.sqlite'))) throw new UsageError(`The gateway has not run yet: no outbox in ${config.spool}.`)
    const { Outbox } = await import('@kura/gateway')
    const outbox = Outbox.open(config.spool)
    try {
      status = collectStatus(outbox, { site: config.site, hub: config.hub.url, collection: config.collection })
    } finally {
      outbox.close()
    }
  }
  process.stdout.write(values.json ? JSON.stringify(status, null, 2) + '\n' : formatStatus(status))
  return 0
}
