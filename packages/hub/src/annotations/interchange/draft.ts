/**
 * @module What an importer produces: an annotation without the things the hub assigns (id, target, author, times,
 * status, task). Importers are pure (bytes in, drafts out), so the same reader serves the HTTP route, the CLI
 * and the tests; the hub fills in the rest when it stores them.
 */
import type { Annotation } from '../model.ts'
import type { UnmappedClass } from './labels.ts'

export type AnnotationDraft = Pick<Annotation, 'shape' | 'geometry' | 'label'> & Partial<Pick<Annotation, 'ellipse' | 'properties' | 'confidence' | 'createdAt'>>

export interface ImportResult {
  annotations: AnnotationDraft[]
  /** Class names with no code, and how many objects carried each. */
  unmapped: UnmappedClass[]
  /** Objects held back because their class is unmapped (policy `hold`). */
  held: number
}
