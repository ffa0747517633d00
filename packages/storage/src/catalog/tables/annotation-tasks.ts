/** @module Catalog tables: annotation tasks, their items, members and assignments, and adjudication (migration 000008). */

export type TaskKind = 'region' | 'image-label' | 'both'
export type TaskStatus = 'open' | 'closed'
export type TaskMemberRole = 'annotator' | 'reviewer'
export type AssignmentState = 'todo' | 'in_progress' | 'submitted'
export type AdjudicationDecision = 'accepted' | 'edited' | 'rejected'

export interface TaskTable {
  id: string
  collection_id: string
  name: string
  description: string
  /** The vocabulary readers label with; null: any of the collection's vocabularies. */
  vocabulary_id: string | null
  /** The code level (granularity) readers use; null: any. */
  vocabulary_level: number | null
  kind: TaskKind
  annotators_per_item: number
  /** The user who adjudicates; others with annotation:review on the collection may too. */
  reviewer_id: string | null
  status: TaskStatus
  created_by: string
  created_at: string
}

/** One slide, or one DICOM instance (and frame), to annotate. */
export interface TaskItemTable {
  id: string
  task_id: string
  position: number
  slide_id: string | null
  study_instance_uid: string | null
  series_instance_uid: string | null
  sop_instance_uid: string | null
  frame: number | null
}

export interface TaskMemberTable {
  task_id: string
  user_id: string
  role: TaskMemberRole
}

export interface TaskAssignmentTable {
  task_id: string
  item_id: string
  user_id: string
  state: AssignmentState
  updated_at: string
  submitted_at: string | null
}

/** The reviewer's decision on one reader annotation or image-level label. */
export interface AdjudicationTable {
  id: string
  task_id: string
  item_id: string
  source_kind: 'annotation' | 'image-label'
  source_id: string
  /** The reader who made the source (a user id). */
  source_author: string
  decision: AdjudicationDecision
  reviewer_id: string
  decided_at: string
  /** The ground-truth annotation or image-level label made from it (null when rejected). */
  result_id: string | null
  note: string
}

export interface AnnotationTaskTables {
  task: TaskTable
  task_item: TaskItemTable
  task_member: TaskMemberTable
  task_assignment: TaskAssignmentTable
  adjudication: AdjudicationTable
}
