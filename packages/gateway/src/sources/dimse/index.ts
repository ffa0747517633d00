/** @module DICOM network source: C-ECHO and C-STORE SCP streaming into the spool. */
export { startDimseServer, type DimseServer, type DimseServerOptions } from './server.ts'
export { STORABLE_TRANSFER_SYNTAXES, STORAGE_SOP_CLASS_ROOT, VERIFICATION_SOP_CLASS } from './negotiation.ts'
export { DimseErrors } from './errors.ts'
