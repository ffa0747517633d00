/**
 * @module The task vocabulary shared by the service, the routes and the agreement report: task kinds, states and
 * decisions, named once from the catalog's table types, and the views the API returns.
 */
import type { Database } from '@kura/storage'
import type { AnnotationTarget } from '../annotations/model.ts'

export type TaskKind = Database['task']['kind']
export type TaskStatus = Database['task']['status']
export type AssignmentState = Database['task_assignment']['state']
export type AdjudicationDecision = Database['adjudication']['decision']
export type SourceKind = Database['adjudication']['source_kind']

export interface UserRef {
  id: string
  username: string
}

export interface TaskItemView {
  id: string
  position: number
  target: AnnotationTarget
}

/** One line of GET /api/tasks. */
export interface TaskSummary {
  id: string
  collection: string
  name: string
  description: string
  kind: TaskKind
  status: TaskStatus
  vocabularyId: string | null
  level: number | null
  annotatorsPerItem: number
  reviewer: UserRef | null
  createdBy: string
  createdAt: string
  items: number
  /** The caller's part: a reader (assigned items), a reviewer, or both. */
  myRole: { annotator: boolean; reviewer: boolean }
}

export interface Counts {
  todo: number
  inProgress: number
  submitted: number
}

export interface AssignmentView {
  user: UserRef
  state: AssignmentState
  submittedAt: string | null
  annotations: number
  imageLabels: number
}
