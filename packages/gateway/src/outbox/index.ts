/** @module The outbox: durable per-object state in SQLite beside the spool's files. */
export { Outbox, STATES, WAITING, type ObjectState, type OutboxRow, type NewObject, type Deidentified, type RecoveryReport, type StateCount, type OutboxEvent, type SpoolSidecar } from './outbox.ts'
export { OutboxErrors } from './errors.ts'
