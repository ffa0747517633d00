/**
 * @module @kura/storage: where the archive keeps things — original and derived files in an
 * object store (filesystem or S3) and the searchable catalog (SQLite or PostgreSQL).
 */
export * from './types.ts'
export { StorageErrors, CatalogErrors } from './errors.ts'

export type { ArchiveObjectStore, PutFileOptions } from './object-store/archive-object-store.ts'
export { FilesystemObjectStore, type FilesystemObjectStoreOptions } from './object-store/filesystem.ts'
export { S3ObjectStore, S3RangeSource, type S3ObjectStoreOptions } from './object-store/s3.ts'
export { openObjectStore, type OpenObjectStoreOptions } from './object-store/open.ts'

export { openCatalog, type Catalog, type CatalogEngine, type OpenCatalogOptions } from './catalog/connect.ts'
export type { CatalogCapabilities } from './catalog/capabilities.ts'
export type { Database, UserTable, GrantTable, ApiTokenTable, SessionTable, AuditEventTable, SiteTable } from './catalog/database.ts'
export { storeInstance } from './catalog/store-instance.ts'
export {
  getInstance,
  listInstances,
  getStudy,
  studyVersion,
  getSeries,
  deleteStudy,
  deleteSeries,
  deleteInstance,
  type DeletedInstances,
  type InstanceRow,
  type StudyRow,
  type SeriesRow,
} from './catalog/archive.repository.ts'
export { search, searchableKeys, type SearchRow, type SearchResult } from './catalog/search.ts'

export { JobQueue, retryDelayMs, type EnqueueOptions, type ClaimedJob, type JobInfo } from './jobs/queue.ts'
export { JobRunner, type JobHandler, type JobRunnerOptions } from './jobs/runner.ts'
export type { JobState } from './catalog/tables/jobs.ts'
