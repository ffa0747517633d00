/** @module Gateway status: collected from the outbox, served as JSON and Prometheus text. */
export { collectStatus, toPrometheus, formatStatus, type GatewayStatus, type StatusRuntime } from './status.ts'
export { startStatusServer, type StatusServer } from './server.ts'
