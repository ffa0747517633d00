/**
 * @module Gateway status: per source and per state counts and bytes, oldest waiting object, recent errors,
 * quarantine, clinical records by state with the held ones and their reasons, and the uploader's condition; as a JSON document, as Prometheus text, and as lines for a terminal.
 * Read from the outbox, so `kura gateway status` works whether or not the gateway is running.
 */
import type { Outbox, ObjectState } from '../outbox/index.ts'
import { RecordOutbox, STATES, WAITING } from '../outbox/index.ts'

export interface StatusRuntime {
  /** Seconds since the gateway started. */
  uptimeSeconds: number
  uploader: { authProblem: string | null; hubFullUntil: string | null; uploadsInFlight: number; uploadsDone: number; bytesSent: number; bandwidthBytesPerSec: number; bytesPerSecLastMinute: number }
  pipeline: { paused: string | null }
  /** Clinical records since start: queued by the pipeline, held by it, inputs with no record Kura keeps, confirmed by the hub. */
  records?: { queued: number; held: number; inputsIgnored: number; confirmed: number }
  sources: Array<{ name: string; lastError: string | null }>
}

export interface GatewayStatus {
  site: string
  hub: string
  collection: string
  generatedAt: string
  /** Present only when read from a running gateway. */
  running: StatusRuntime | null
  totals: Record<ObjectState, { count: number; bytes: number }>
  sources: Array<{ source: string; states: Partial<Record<ObjectState, { count: number; bytes: number }>>; receivedLastMinute: { count: number; bytes: number } }>
  waiting: { count: number; bytes: number; oldest: { id: string; source: string; state: ObjectState; receivedAt: string; ageSeconds: number } | null }
  quarantine: { count: number; dir: string }
  /**
   * Clinical records (a subset of the counts above): by state, raw inputs not yet processed, and the most recent
   * held ones (invalid, flagged by verification, or rejected by the hub) with their per-field reasons.
   */
  records: { states: Partial<Record<ObjectState, number>>; inputsWaiting: number; held: Array<{ id: string; source: string; ref: string | null; kind: string | null; state: string; at: string; reasons: Array<{ path: string; message: string }> }> }
  lastErrors: Array<{ at: string; component: string; message: string }>
}

export function collectStatus(outbox: Outbox, ident: { site: string; hub: string; collection: string }, running: StatusRuntime | null = null): GatewayStatus {
  const totals = Object.fromEntries(STATES.map((s) => [s, { count: 0, bytes: 0 }])) as GatewayStatus['totals']
  const bySource = new Map<string, GatewayStatus['sources'][number]>()
  for (const c of outbox.counts()) {
    totals[c.state].count += c.count
    totals[c.state].bytes += c.bytes
    const s = bySource.get(c.source) ?? { source: c.source, states: {}, receivedLastMinute: { count: 0, bytes: 0 } }
    s.states[c.state] = { count: c.count, bytes: c.bytes }
    bySource.set(c.source, s)
  }
  const now = Date.now()
  for (const r of outbox.receivedSince(now - 60_000)) {
    const s = bySource.get(r.source)
    if (s) s.receivedLastMinute = { count: r.count, bytes: r.bytes }
  }
  const oldest = outbox.oldestWaiting()
  const recs = new RecordOutbox(outbox)
  const rc = recs.counts()
  return {
    ...ident,
    generatedAt: new Date(now).toISOString(),
    running,
    totals,
    sources: [...bySource.values()],
    waiting: {
      count: WAITING.reduce((n, s) => n + totals[s].count, 0),
      bytes: WAITING.reduce((n, s) => n + totals[s].bytes, 0),
      oldest: oldest ? { id: oldest.id, source: oldest.source, state: oldest.state, receivedAt: new Date(oldest.received_at).toISOString(), ageSeconds: Math.round((now - oldest.received_at) / 1000) } : null,
    },
    quarantine: { count: totals.quarantined.count, dir: outbox.quarantine },
    records: {
      states: rc.states as Partial<Record<ObjectState, number>>,
      inputsWaiting: rc.inputs,
      held: recs.held(20).map((h) => ({ id: h.id, source: h.source, ref: h.ref, kind: h.recordKind, state: h.state, at: new Date(h.at).toISOString(), reasons: h.reasons })),
    },
    lastErrors: outbox.lastEvents(10).map((e) => ({ at: new Date(e.at).toISOString(), component: e.component, message: e.message })),
  }
}

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')

/** Prometheus text exposition format 0.0.4. */
export function toPrometheus(s: GatewayStatus): string {
  const out: string[] = []
  const metric = (name: string, help: string, type: 'gauge' | 'counter', samples: Array<[Record<string, string>, number]>) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    for (const [labels, v] of samples) {
      const l = Object.entries(labels).map(([k, x]) => `${k}="${esc(x)}"`).join(',')
      out.push(`${name}${l ? `{${l}}` : ''} ${v}`)
    }
  }
  const per = (key: 'count' | 'bytes') => s.sources.flatMap((src) => STATES.map((st) => [{ source: src.source, state: st }, src.states[st]?.[key] ?? 0] as [Record<string, string>, number]))
  metric('kura_gateway_objects', 'Objects in the outbox by source and state.', 'gauge', per('count'))
  metric('kura_gateway_object_bytes', 'Bytes of the objects in the outbox by source and state.', 'gauge', per('bytes'))
  metric('kura_gateway_received_last_minute', 'Objects received in the last minute, by source.', 'gauge', s.sources.map((src) => [{ source: src.source }, src.receivedLastMinute?.count ?? 0]))
  metric('kura_gateway_waiting_objects', 'Objects not yet confirmed by the hub.', 'gauge', [[{}, s.waiting.count]])
  metric('kura_gateway_oldest_waiting_seconds', 'Age of the oldest object not yet confirmed by the hub.', 'gauge', [[{}, s.waiting.oldest?.ageSeconds ?? 0]])
  metric('kura_gateway_records', 'Clinical records in the outbox by state (quarantined = held on site with reasons).', 'gauge', STATES.map((st) => [{ state: st }, s.records.states[st] ?? 0]))
  metric('kura_gateway_record_inputs_waiting', 'Raw record inputs (SS-MIX2 messages, export rows) spooled but not yet processed.', 'gauge', [[{}, s.records.inputsWaiting]])
  metric('kura_gateway_quarantined_objects', 'Objects held on site because verification flagged them.', 'gauge', [[{}, s.quarantine.count]])
  if (s.running) {
    const u = s.running.uploader
    metric('kura_gateway_upload_auth_problem', '1 while the hub refuses the token (uploads stopped).', 'gauge', [[{}, u.authProblem ? 1 : 0]])
    metric('kura_gateway_hub_full', '1 while the hub reported it has no space (507).', 'gauge', [[{}, u.hubFullUntil ? 1 : 0]])
    metric('kura_gateway_uploads_in_flight', 'Uploads in progress.', 'gauge', [[{}, u.uploadsInFlight]])
    metric('kura_gateway_uploads_total', 'Uploads completed since start.', 'counter', [[{}, u.uploadsDone]])
    metric('kura_gateway_upload_bytes_total', 'Bytes the hub accepted since start.', 'counter', [[{}, u.bytesSent]])
    metric('kura_gateway_upload_bytes_per_second', 'Upload rate over the last minute.', 'gauge', [[{}, u.bytesPerSecLastMinute]])
    metric('kura_gateway_bandwidth_cap_bytes_per_second', 'Bandwidth cap in force now (0 = none).', 'gauge', [[{}, u.bandwidthBytesPerSec]])
    metric('kura_gateway_pipeline_paused', '1 while de-identification is paused (spool disk low).', 'gauge', [[{}, s.running.pipeline.paused ? 1 : 0]])
    metric('kura_gateway_uptime_seconds', 'Seconds since the gateway started.', 'gauge', [[{}, s.running.uptimeSeconds]])
  }
  return out.join('\n') + '\n'
}

function fmtBytes(n: number): string {
  const u = ['B', 'KB', 'MB', 'GB', 'TB']
  let i = 0
  let v = n
  while (v >= 1000 && i < u.length - 1) { v /= 1000; i++ }
  return `${i === 0 ? v : v.toFixed(1)} ${u[i]}`
}

/** Lines for `kura gateway status`. */
export function formatStatus(s: GatewayStatus): string {
  const lines = [`Gateway ${s.site} → ${s.hub} (collection ${s.collection})${s.running ? `, running for ${s.running.uptimeSeconds} s` : ', not running (read from the outbox)'}`]
  if (s.running?.uploader.authProblem) lines.push(`UPLOADS STOPPED: ${s.running.uploader.authProblem}`)
  if (s.running?.uploader.hubFullUntil) lines.push(`HUB FULL: uploads paused until ${s.running.uploader.hubFullUntil}`)
  if (s.running?.pipeline.paused) lines.push(`DE-IDENTIFICATION PAUSED: ${s.running.pipeline.paused}`)
  if (s.running) lines.push(`Upload: ${fmtBytes(s.running.uploader.bytesPerSecLastMinute)}/s over the last minute, cap ${s.running.uploader.bandwidthBytesPerSec ? fmtBytes(s.running.uploader.bandwidthBytesPerSec) + '/s' : 'none'}, ${s.running.uploader.uploadsInFlight} in flight`)
  const shown = STATES.filter((st) => s.totals[st].count > 0)
  const w = Math.max(6, ...s.sources.map((src) => src.source.length))
  lines.push('', `  ${'source'.padEnd(w)} ${shown.map((st) => st.padStart(12)).join(' ')} ${'received/min'.padStart(13)}`)
  for (const src of s.sources) lines.push(`  ${src.source.padEnd(w)} ${shown.map((st) => String(src.states[st]?.count ?? 0).padStart(12)).join(' ')} ${String(src.receivedLastMinute?.count ?? 0).padStart(13)}`)
  lines.push(`  ${'bytes'.padEnd(w)} ${shown.map((st) => fmtBytes(s.totals[st].bytes).padStart(12)).join(' ')}`)
  const o = s.waiting.oldest
  lines.push('', `Waiting for the hub: ${s.waiting.count} (${fmtBytes(s.waiting.bytes)})${o ? `; oldest ${o.id} from ${o.source}, received ${o.ageSeconds} s ago, now ${o.state}` : ''}`)
  lines.push(`Quarantined (never uploaded; reasons in ${s.quarantine.dir}/<id>/reason.json): ${s.quarantine.count}`)
  const rs = Object.entries(s.records.states).filter(([, n]) => (n ?? 0) > 0)
  if (rs.length > 0 || s.records.inputsWaiting > 0) {
    lines.push(`Clinical records: ${rs.map(([st, n]) => `${n} ${st}`).join(', ') || 'none'}; ${s.records.inputsWaiting} inputs waiting to be read`)
    for (const h of s.records.held.slice(0, 10)) lines.push(`  held ${h.id} from ${h.source}${h.ref ? ` (${h.ref})` : ''}: ${h.reasons.slice(0, 3).map((r) => (r.path ? `${r.path}: ${r.message}` : r.message)).join('; ')}`)
  }
  if (s.lastErrors.length > 0) {
    lines.push('', 'Last errors:')
    for (const e of s.lastErrors) lines.push(`  ${e.at} ${e.component}: ${e.message}`)
  }
  return lines.join('\n') + '\n'
}
