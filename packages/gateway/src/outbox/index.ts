/** @module The outbox: durable per-object state in SQLite beside the spool's files. */
export { Outbox, STATES, WAITING, type ObjectState, type OutboxRow, type ObjectKind, type NewObject, type Deidentified, type RecoveryReport, type StateCount, type OutboxEvent, type SpoolSidecar } from './outbox.ts'
export { OutboxErrors } from './errors.ts'
export { RecordOutbox, type RecordInput, type SpooledInput, type TakenFile, type RecordOutput, type ClaimedRecord, type HeldRecordRow } from './records.ts'
export { migrateRecordSchema, OUTBOX_SCHEMA_VERSION } from './record-schema.ts'
