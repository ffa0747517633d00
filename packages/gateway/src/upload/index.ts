/** @module The uploader: tus client, ustar bundles, bandwidth cap and the outbox-driven upload loop. */
export { Uploader, type UploaderOptions, type UploaderState } from './uploader.ts'
export { TusClient, type TusClientOptions, type UploadResult, type UploadResultObject, type UploadSpec } from './tus-client.ts'
export { writeUstar, ustarHeader, type TarEntry } from './tar.ts'
export { Bandwidth } from './bandwidth.ts'
export { UploadErrors } from './errors.ts'
export { RecordsClient, RECORD_BATCH_MAX, RECORD_BATCH_BYTES, type RecordResult, type RecordStatus, type RecordsClientOptions } from './records-client.ts'
