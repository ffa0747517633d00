/** @module Catalog tables: Annotation tasks, their items and members, and adjudication (migration 000008). */


export interface AnnotationTaskTables {}
