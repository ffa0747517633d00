/** @module The hub's JSON API shapes (docs/api.md), as the browser sees them. */

export interface User {
  id: string
  username: string
  displayName: string | null
  email: string | null
  isAdmin: boolean
  disabled: boolean
  lockedUntil: string | null
  oidc: boolean
  createdAt: string
}

export const ROLES = ['admin', 'curator', 'site_uploader', 'annotator', 'reviewer', 'researcher', 'educator', 'auditor'] as const
export type Role = (typeof ROLES)[number]

export interface Grant {
  id: string
  userId: string
  username: string
  role: Role
  collection: string | null
  site: string | null
  createdAt: string
}

export interface Session {
  user: User
  csrfToken: string | null
  grants: Grant[]
  permissions: string[]
  mustChangePassword: boolean
}

export interface AuthConfig {
  local: boolean
  oidc: { name: string } | null
}

export interface Collection {
  id: string
  name: string
  /** Only de-identified objects are accepted; the hub checks each on receipt. */
  deidentified: boolean
  studies: number
  instances: number
  createdAt: string
}

export interface Site {
  id: string
  name: string
  createdAt: string
}

export interface Token {
  id: string
  name: string
  userId: string
  username: string
  role: Role
  collection: string | null
  site: string | null
  prefix: string
  createdAt: string
  expiresAt: string | null
  revokedAt: string | null
  lastUsedAt: string | null
}

export interface AuditEvent {
  seq: number
  at: string
  actor: string | null
  actorKind: string
  action: string
  resource: string | null
  collection: string | null
  ip: string | null
  outcome: string
  status: number | null
  hash: string
}

export interface AuditVerify {
  ok: boolean
  events: number
  firstBad: number | null
  reason: string | null
}

export interface SlideLevel {
  width: number
  height: number
  tileWidth: number
  tileHeight: number
  downsample: number
}

/** `GET /slides` rows and `GET /slides/{id}` (which adds `properties`). */
export interface SlideInfo {
  id: string
  collection: string
  format: string
  width: number
  height: number
  levels: SlideLevel[]
  /** Micrometres per level-0 pixel; null when the file does not say. */
  mpp: { x: number; y: number } | null
  objectivePower: number | null
  associated: { name: string; width: number; height: number }[]
  sha256: string
  size: number
  createdAt: string
  properties?: Record<string, string>
}

export function isAdmin(s: Session | null): boolean {
  return !!s && (s.user.isAdmin || s.permissions.includes('admin'))
}

export function canReadAudit(s: Session | null): boolean {
  return !!s && (isAdmin(s) || s.permissions.includes('audit:read'))
}

// ---- Annotations, vocabularies and tasks (mirrors packages/hub/src/annotations/model.ts; the web never imports hub code).

export type Position = [number, number]
export type Geometry =
  | { type: 'Point'; coordinates: Position }
  | { type: 'MultiPoint'; coordinates: Position[] }
  | { type: 'LineString'; coordinates: Position[] }
  | { type: 'Polygon'; coordinates: Position[][] }
  | { type: 'MultiPolygon'; coordinates: Position[][][] }
export type ShapeKind = 'point' | 'polyline' | 'rectangle' | 'ellipse' | 'polygon' | 'mask'
export type AnnotationStatus = 'draft' | 'submitted' | 'accepted' | 'rejected'
export const ANNOTATION_STATUSES: readonly AnnotationStatus[] = ['draft', 'submitted', 'accepted', 'rejected']
export interface CodeRef { system: string; code: string; version?: string }
export type AnnotationTarget =
  | { kind: 'slide'; slideId: string }
  | { kind: 'instance'; studyInstanceUid: string; seriesInstanceUid: string; sopInstanceUid: string; frame?: number }

export interface Annotation {
  id: string
  target: AnnotationTarget
  shape: ShapeKind
  geometry: Geometry
  ellipse?: { cx: number; cy: number; rx: number; ry: number; rotation: number }
  label: CodeRef
  author: string
  /** The author's user name, when the hub sends it (else the UI shows the id). */
  authorName?: string
  createdAt: string
  updatedAt: string
  confidence: number | null
  status: AnnotationStatus
  taskId: string | null
  properties?: Record<string, unknown>
}

/**
 * `GET /api/slides/:id/annotations?x=&y=&w=&h=&scale=`: the shapes in the viewport, simplified when zoomed
 * out; shapes under about one screen pixel (`minExtent` level-0 pixels) are left out; `truncated` when more
 * matched than `limit`.
 */
export interface AnnotationPage { annotations: Annotation[]; count: number; truncated: boolean; simplified: boolean; minExtent?: number; limit?: number; /** Level-0 pixels of the simplification the shapes come with (0: full geometry). */ tolerance?: number }

export interface ImageLabel {
  id: string
  target: AnnotationTarget
  label: CodeRef
  author: string
  authorName?: string
  createdAt: string
  confidence: number | null
  status: AnnotationStatus
  taskId: string | null
}

export interface Vocabulary {
  id: string
  system: string
  version: string
  name: string
  nameJa?: string
  licence?: string
  origin?: 'builtin' | 'imported'
}

/** One code as `GET /api/vocabularies/:id` sends it. */
export interface VocabularyCodeWire { code: string; meaningEn: string; meaningJa: string; parent: string | null; level: number; status: 'active' | 'retired' }

/** One code of a vocabulary as the picker uses it (system and version filled in from the vocabulary). */
export interface VocabularyCode {
  system: string
  code: string
  version?: string
  meaning: { ja: string; en: string }
  parent: string | null
  status?: string
  /** 0 is the coarsest level. */
  level?: number
}

/** `GET /api/collections/:name/vocabularies`: which vocabulary, at which code level (null: any), its annotators use. */
export interface CollectionVocabulary { vocabulary: Vocabulary; level: number | null }

export interface UserRef { id: string; username: string }
export interface TaskCounts { todo: number; inProgress: number; submitted: number }
export type AssignmentState = 'todo' | 'in_progress' | 'submitted'

/** `GET /api/tasks` rows: what the caller may see (an annotator only tasks assigned to them). */
export interface AnnotationTask {
  id: string
  collection: string
  name: string
  description: string
  kind: 'region' | 'image-label' | 'both'
  status: 'open' | 'closed'
  vocabularyId: string | null
  level: number | null
  annotatorsPerItem: number
  reviewer: UserRef | null
  createdBy: string
  createdAt: string
  items: number
  myRole: { annotator: boolean; reviewer: boolean }
  progress?: TaskCounts & { assignments: number }
}

export interface TaskItemView { id: string; position: number; target: AnnotationTarget }
export interface AssignmentView { user: UserRef; state: AssignmentState; submittedAt: string | null; annotations: number; imageLabels: number }

/** `GET /api/tasks/:id`: progress per task, per annotator and per item (a reader sees only their own part). */
export interface TaskDetail extends AnnotationTask {
  members: (UserRef & { role: 'annotator' | 'reviewer' })[]
  progress: TaskCounts & { items: number; assignments: number; itemsFullySubmitted: number; itemsAdjudicated: number }
  annotators: (UserRef & TaskCounts & { annotations: number; imageLabels: number })[]
  itemProgress: (TaskItemView & { assignments: AssignmentView[]; adjudicated: boolean })[]
}

/** `GET /api/tasks/:id/items`: the caller's own assignments. */
export interface MyTaskItem extends TaskItemView { state: AssignmentState; submittedAt: string | null; annotations: number; imageLabels: number }

/** `GET /api/tasks/:id/items/:item/review`: every reader's work on one item, side by side. */
export interface ItemReview {
  item: TaskItemView
  readers: (UserRef & { state: AssignmentState; submittedAt: string | null; annotations: Annotation[]; imageLabels: ImageLabel[] })[]
  decisions: { sources?: string[]; source?: string; decision: 'accepted' | 'edited' | 'rejected' }[]
  groundTruth: { annotations: Annotation[]; imageLabels: ImageLabel[] }
}

/** One reviewer decision: `sources` are reader annotation (or image-label) ids; `edited` carries the fix. */
export interface AdjudicationDecision {
  sources: string[]
  decision: 'accepted' | 'edited' | 'rejected'
  geometry?: Geometry
  shape?: ShapeKind
  label?: CodeRef
  note?: string
}

export interface MetricValue { value: number | null; reason?: string }
export interface MeanOverlap { items: number; dice: MetricValue; iou: MetricValue }

/** `GET /api/tasks/:id/agreement`: kappa for image-level labels, Dice/IoU for regions (labels are `system:code`). */
export interface TaskAgreement {
  task: string
  users: UserRef[]
  itemsWithTwoReadings: number
  raters: string[]
  items: number
  imageLabels: {
    overall: { items: number; ratings: number; percentAgreement: MetricValue; kappa: MetricValue }
    pairs: { a: string; b: string; items: number; percentAgreement: MetricValue; kappa: MetricValue }[]
    perLabel: { label: string; items: number; kappa: MetricValue }[]
  }
  regions: {
    pairs: (MeanOverlap & { a: string; b: string; label: string | null })[]
    perLabel: (MeanOverlap & { label: string })[]
    perAnnotator: (MeanOverlap & { rater: string })[]
  }
}

export function canAnnotate(s: Session | null): boolean {
  return !!s && (isAdmin(s) || s.permissions.includes('annotation:write'))
}

export function canReview(s: Session | null): boolean {
  return !!s && (isAdmin(s) || s.permissions.includes('annotation:review'))
}
