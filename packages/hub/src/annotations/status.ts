/**
 * @module Annotation status changes: which transitions exist, and which of them only a reviewer may make.
 *
 * Annotators move their own work between draft and submitted; accepting, rejecting and reopening reviewed work
 * is review (adjudication), so it needs annotation:review.
 */
import type { AnnotationStatus } from './model.ts'

const NEXT: Record<AnnotationStatus, readonly AnnotationStatus[]> = {
  draft: ['submitted', 'accepted', 'rejected'],
  submitted: ['draft', 'accepted', 'rejected'],
  accepted: ['rejected', 'submitted'],
  rejected: ['accepted', 'submitted', 'draft'],
}

/** Whether `from` → `to` is a transition at all (staying put always is). */
export function canTransition(from: AnnotationStatus, to: AnnotationStatus): boolean {
  return from === to || NEXT[from].includes(to)
}

/** Whether making `to` from `from` (or creating with `to`, when `from` is null) is a reviewer's act. */
export function needsReview(from: AnnotationStatus | null, to: AnnotationStatus): boolean {
  if (from === to) return false
  return to === 'accepted' || to === 'rejected' || from === 'accepted' || from === 'rejected'
}
