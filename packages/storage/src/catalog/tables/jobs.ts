/** @module Catalog tables: the job queue and slide derivatives (migration 000010). */

export type JobState = 'queued' | 'active' | 'done' | 'failed'

export interface JobTable {
  id: string
  name: string
  /** JSON. */
  payload: string
  singleton_key: string | null
  state: JobState
  attempts: number
  max_attempts: number
  /** ISO time before which the job is not claimed (back-off after a failure). */
  run_after: string
  /** The worker that holds it, and until when: a worker that died lets it go when this passes. */
  locked_by: string | null
  locked_until: string | null
  last_error: string | null
  created_at: string
  updated_at: string
}

/** A file derived from a stored slide by a worker (`pyramid`: the levels the scanner did not write). */
export interface SlideDerivativeTable {
  slide_id: string
  kind: string
  object_key: string
  sha256: string
  size: number
  /** JSON array of { width, height, tileWidth, tileHeight, downsample } of the derived file. */
  levels: string
  created_at: string
}

export interface JobTables {
  job: JobTable
  slide_derivative: SlideDerivativeTable
}
