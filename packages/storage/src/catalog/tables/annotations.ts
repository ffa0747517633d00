/** @module Catalog tables: Vocabularies, codes, annotations (with their spatial index) and image-level labels (migration 000007). */


export interface AnnotationTables {}
