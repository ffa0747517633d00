/**
 * @module The hub's annotation, vocabulary and task endpoints as typed calls, in one place, so the
 * viewer and the task pages share one reading of the contract (docs/api.md). List answers are taken
 * either bare or wrapped in an object, because the contract was written while the hub grew.
 */
import { api, request, withQuery } from '../api.ts'
import type {
  AdjudicationDecision, Annotation, AnnotationPage, AnnotationStatus, AnnotationTask, CodeRef, CollectionVocabulary,
  Geometry, ImageLabel, ItemReview, MyTaskItem, ShapeKind, TaskAgreement, TaskDetail, Vocabulary, VocabularyCode, VocabularyCodeWire,
} from '../types.ts'

const enc = encodeURIComponent

/** `[...]` or `{ <key>: [...] }` → the array. */
function list<T>(body: unknown, key: string): T[] {
  if (Array.isArray(body)) return body as T[]
  const inner = (body as Record<string, unknown> | null)?.[key]
  return Array.isArray(inner) ? (inner as T[]) : []
}

export interface ViewportQuery {
  x: number
  y: number
  w: number
  h: number
  /** Screen pixels per level-0 pixel: the hub simplifies shapes finer than a screen pixel. */
  scale: number
  label?: string
  author?: string
  status?: AnnotationStatus
  task?: string
  limit?: number
}

/**
 * Zoomed out over more shapes than the limit, the hub counts them per grid cell and label instead of sending them
 * (`mode: 'density'`); `annotations` then holds only the shapes larger than a cell. Cell (gx, gy) covers
 * [gx·cellSize, (gx+1)·cellSize) in level-0 pixels; `cells` is flat [gx, gy, label index, count, ...].
 */
export interface DensityGrid {
  cellSize: number
  labels: Pick<CodeRef, 'system' | 'code'>[]
  cells: number[]
  total: number
}

export interface ViewportPage extends AnnotationPage {
  mode?: 'shapes' | 'density'
  density?: DensityGrid
}

export function viewportAnnotations(slideId: string, q: ViewportQuery, signal?: AbortSignal): Promise<ViewportPage> {
  const round = (v: number) => Math.round(v)
  return api.get<ViewportPage>(
    withQuery(`/api/slides/${enc(slideId)}/annotations`, { ...q, x: round(q.x), y: round(q.y), w: round(q.w), h: round(q.h), scale: Number(q.scale.toPrecision(4)) }),
    { signal },
  )
}

export interface NewAnnotation {
  shape: ShapeKind
  geometry: Geometry
  ellipse?: Annotation['ellipse']
  label: CodeRef
  taskId?: string | null
  status?: AnnotationStatus
}

export const createAnnotation = (slideId: string, a: NewAnnotation) => api.post<Annotation>(`/api/slides/${enc(slideId)}/annotations`, a)
export const updateAnnotation = (id: string, change: Partial<Pick<Annotation, 'geometry' | 'label' | 'status' | 'ellipse'>>) =>
  api.patch<Annotation>(`/api/annotations/${enc(id)}`, change)
export const deleteAnnotation = (id: string) => api.del(`/api/annotations/${enc(id)}`)

export async function imageLabels(slideId: string, signal?: AbortSignal): Promise<ImageLabel[]> {
  return list<ImageLabel>(await api.get(`/api/slides/${enc(slideId)}/labels`, { signal }), 'labels')
}
export const addImageLabel = (slideId: string, label: CodeRef, taskId?: string | null) => api.post<ImageLabel>(`/api/slides/${enc(slideId)}/labels`, { label, taskId: taskId ?? undefined })
export const deleteImageLabel = (id: string) => api.del(`/api/labels/${enc(id)}`)

export async function collectionVocabularies(collection: string, signal?: AbortSignal): Promise<CollectionVocabulary[]> {
  return list<CollectionVocabulary>(await api.get(`/api/collections/${enc(collection)}/vocabularies`, { signal }), 'vocabularies')
}

export interface VocabularyWithCodes { vocabulary: Vocabulary; codes: VocabularyCode[] }

/** A vocabulary's active codes, only those of `level` when the collection chose one. */
export async function vocabulary(id: string, level: number | null, signal?: AbortSignal): Promise<VocabularyWithCodes> {
  const body = await api.get<Vocabulary & { codes?: VocabularyCodeWire[] }>(withQuery(`/api/vocabularies/${enc(id)}`, { level }), { signal })
  const { codes: wire = [], ...vocab } = body
  const codes: VocabularyCode[] = wire.map((c) => ({
    system: vocab.system,
    version: vocab.version,
    code: c.code,
    meaning: { en: c.meaningEn, ja: c.meaningJa || c.meaningEn },
    parent: c.parent,
    status: c.status,
    level: c.level,
  }))
  return { vocabulary: vocab, codes }
}

export async function tasks(signal?: AbortSignal): Promise<AnnotationTask[]> {
  return list<AnnotationTask>(await api.get('/api/tasks', { signal }), 'tasks')
}
export const task = (id: string, signal?: AbortSignal) => api.get<TaskDetail>(`/api/tasks/${enc(id)}`, { signal })
export async function taskItems(id: string, signal?: AbortSignal): Promise<MyTaskItem[]> {
  return list<MyTaskItem>(await api.get(`/api/tasks/${enc(id)}/items`, { signal }), 'items')
}
export const submitItem = (taskId: string, itemId: string) => api.post<unknown>(`/api/tasks/${enc(taskId)}/items/${enc(itemId)}/submit`)
export const itemReview = (taskId: string, itemId: string, signal?: AbortSignal) => api.get<ItemReview>(`/api/tasks/${enc(taskId)}/items/${enc(itemId)}/review`, { signal })
export const adjudicate = (taskId: string, itemId: string, decisions: AdjudicationDecision[]) =>
  request<unknown>(`/api/tasks/${enc(taskId)}/items/${enc(itemId)}/adjudicate`, { method: 'POST', body: { decisions } })
export const agreement = (taskId: string, signal?: AbortSignal) => api.get<TaskAgreement>(`/api/tasks/${enc(taskId)}/agreement`, { signal })
