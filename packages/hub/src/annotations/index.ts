/**
 * @module The annotation domain's public door for other packages (the CLI, benchmarks): vocabularies, annotations
 * and image-level labels in the catalog. Code inside the hub may import the files directly.
 */
export * from './model.ts'
export { loadShippedVocabularies, importVocabularyFile, parseColumnMap, type VocabularyImport, type TextEncoding } from './vocabulary-file.ts'
export { listVocabularies, getVocabulary, findVocabulary, vocabularyCodes, collectionVocabularies, setCollectionVocabularies, resolveLabel, rollUp, codeMap, type Vocabulary, type VocabularyCode } from './vocabularies.ts'
export {
  createAnnotations,
  createAnnotation,
  updateAnnotation,
  deleteAnnotation,
  getAnnotation,
  getAnnotations,
  listAnnotations,
  queryViewport,
  queryViewportJson,
  annotationSetVersion,
  annotationHistory,
  targetCollections,
  type StoredAnnotation,
  type AnnotationInput,
  type AnnotationPatch,
  type AnnotationFilter,
  type Viewport,
  type ViewportResult,
} from './repository.ts'
export { createImageLabel, getImageLabel, listImageLabels, updateImageLabel, deleteImageLabel, type StoredImageLabel, type ImageLabelInput } from './image-labels.ts'
