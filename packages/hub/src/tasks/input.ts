/**
 * @module Request bodies of the task API, checked and typed: what a client may send, with a 400 that names the
 * field when it is wrong (TASK_BAD_REQUEST).
 */
import type { AnnotationTarget, CodeRef, Geometry, ShapeKind } from '../annotations/model.ts'
import { SHAPE_KINDS } from '../annotations/model.ts'
import type { AdjudicationDecision, TaskKind } from './model.ts'
import { TaskErrors } from './errors.ts'

export const TASK_KINDS: readonly TaskKind[] = ['region', 'image-label', 'both']
export const MAX_ITEMS = 10_000
export const MAX_DECISIONS = 1000

export interface NewTask {
  collection: string
  name: string
  description: string
  vocabularyId: string | null
  level: number | null
  kind: TaskKind
  annotatorsPerItem: number
  annotators: string[]
  reviewer: string | null
  items: AnnotationTarget[]
}

export interface Decision {
  /** Reader annotations or image-level labels (all of one kind) the decision covers; one result is made from them. */
  sources: string[]
  decision: AdjudicationDecision
  /** For `edited`: what changes in the ground-truth copy. */
  shape?: ShapeKind
  geometry?: Geometry
  label?: CodeRef
  note: string
}

const bad = TaskErrors.badRequest
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const text = (v: unknown, field: string, max = 500): string => {
  if (typeof v !== 'string' || !v.trim()) throw bad(`"${field}" is required: a non-empty string.`)
  if (v.length > max) throw bad(`"${field}" is at most ${max} characters.`)
  return v.trim()
}
const optText = (v: unknown, field: string, max = 5000): string => (v == null ? '' : text(v, field, max))
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export function isUuid(v: unknown): v is string {
  return typeof v === 'string' && uuid.test(v)
}

export function parseTarget(v: unknown, field: string): AnnotationTarget {
  if (!isObject(v)) throw bad(`"${field}" is { "slideId" } or { "studyInstanceUid", "seriesInstanceUid", "sopInstanceUid", "frame"? }.`)
  if (v.slideId !== undefined) {
    if (!isUuid(v.slideId)) throw bad(`"${field}.slideId" is a slide id.`)
    return { kind: 'slide', slideId: v.slideId.toLowerCase() }
  }
  const uid = (k: string) => {
    const u = v[k]
    if (typeof u !== 'string' || !/^[0-9.]{1,64}$/.test(u)) throw bad(`"${field}.${k}" is a DICOM UID.`)
    return u
  }
  const t: AnnotationTarget = { kind: 'instance', studyInstanceUid: uid('studyInstanceUid'), seriesInstanceUid: uid('seriesInstanceUid'), sopInstanceUid: uid('sopInstanceUid') }
  if (v.frame != null) {
    if (!Number.isInteger(v.frame) || (v.frame as number) < 1) throw bad(`"${field}.frame" is a frame number (1 or more).`)
    t.frame = v.frame as number
  }
  return t
}

export function parseNewTask(body: unknown): NewTask {
  if (!isObject(body)) throw bad('Send a JSON object: { collection, name, kind, annotators, reviewer, items, ... }.')
  const kind = body.kind ?? 'both'
  if (!TASK_KINDS.includes(kind as TaskKind)) throw bad(`"kind" is one of ${TASK_KINDS.join(', ')}.`)
  if (!Array.isArray(body.annotators) || !body.annotators.length || !body.annotators.every(isUuid)) throw bad('"annotators" is a non-empty list of user ids.')
  const annotators = [...new Set((body.annotators as string[]).map((a) => a.toLowerCase()))]
  const perItem = body.annotatorsPerItem ?? 1
  if (!Number.isInteger(perItem) || (perItem as number) < 1 || (perItem as number) > annotators.length)
    throw bad(`"annotatorsPerItem" is a whole number from 1 to the number of annotators (${annotators.length}).`)
  if (body.reviewer != null && !isUuid(body.reviewer)) throw bad('"reviewer" is a user id.')
  const reviewer = body.reviewer == null ? null : (body.reviewer as string).toLowerCase()
  if (reviewer && annotators.includes(reviewer)) throw bad('The reviewer cannot also be an annotator of the same task: review must see readings made blind to it.')
  if (!Array.isArray(body.items) || !body.items.length) throw bad('"items" is a non-empty list of { "slideId" } or DICOM instance references.')
  if (body.items.length > MAX_ITEMS) throw bad(`At most ${MAX_ITEMS} items per task; split the work into several tasks.`)
  const items = body.items.map((it, i) => parseTarget(it, `items[${i}]`))
  const keys = new Set(items.map(targetKey))
  if (keys.size !== items.length) throw bad('"items" names the same image twice.')
  if (body.vocabularyId != null && !isUuid(body.vocabularyId)) throw bad('"vocabularyId" is a vocabulary id (GET /api/vocabularies).')
  if (body.level != null && (!Number.isInteger(body.level) || (body.level as number) < 0)) throw bad('"level" is a code level (0 is the coarsest).')
  return {
    collection: text(body.collection, 'collection', 200),
    name: text(body.name, 'name', 200),
    description: optText(body.description, 'description'),
    vocabularyId: (body.vocabularyId as string | undefined) ?? null,
    level: (body.level as number | undefined) ?? null,
    kind: kind as TaskKind,
    annotatorsPerItem: perItem as number,
    annotators,
    reviewer,
    items,
  }
}

const DECISIONS: readonly AdjudicationDecision[] = ['accepted', 'edited', 'rejected']

export function parseDecisions(body: unknown): Decision[] {
  if (!isObject(body) || !Array.isArray(body.decisions) || !body.decisions.length)
    throw bad('Send { "decisions": [ { "sources": [id, …], "decision": "accepted" | "edited" | "rejected", "geometry"?, "shape"?, "label"?, "note"? } ] }.')
  if (body.decisions.length > MAX_DECISIONS) throw bad(`At most ${MAX_DECISIONS} decisions per request.`)
  const seen = new Set<string>()
  return body.decisions.map((d, i) => {
    const at = `decisions[${i}]`
    if (!isObject(d)) throw bad(`"${at}" is an object.`)
    const sources = d.sources ?? (d.source !== undefined ? [d.source] : undefined)
    if (!Array.isArray(sources) || !sources.length || !sources.every(isUuid)) throw bad(`"${at}.sources" is a non-empty list of annotation or image-level label ids.`)
    for (const s of sources as string[]) {
      if (seen.has(s)) throw bad(`"${at}" names ${s} again: each source gets one decision.`)
      seen.add(s)
    }
    if (!DECISIONS.includes(d.decision as AdjudicationDecision)) throw bad(`"${at}.decision" is one of ${DECISIONS.join(', ')}.`)
    const out: Decision = { sources: sources as string[], decision: d.decision as AdjudicationDecision, note: optText(d.note, `${at}.note`, 2000) }
    if (d.shape !== undefined) {
      if (!SHAPE_KINDS.includes(d.shape as ShapeKind)) throw bad(`"${at}.shape" is one of ${SHAPE_KINDS.join(', ')}.`)
      out.shape = d.shape as ShapeKind
    }
    if (d.geometry !== undefined) {
      if (!isObject(d.geometry) || typeof d.geometry.type !== 'string') throw bad(`"${at}.geometry" is a GeoJSON geometry.`)
      out.geometry = d.geometry as unknown as Geometry
    }
    if (d.label !== undefined) {
      if (!isObject(d.label) || typeof d.label.system !== 'string' || typeof d.label.code !== 'string') throw bad(`"${at}.label" is { "system", "code", "version"? }.`)
      out.label = { system: d.label.system, code: d.label.code, ...(typeof d.label.version === 'string' ? { version: d.label.version } : {}) }
    }
    const edits = out.shape !== undefined || out.geometry !== undefined || out.label !== undefined
    if (out.decision === 'edited' && !edits) throw bad(`"${at}" is "edited": give the changed "geometry" (and "shape") or "label".`)
    if (out.decision !== 'edited' && edits) throw bad(`"${at}" changes the shape or label: make it "decision": "edited".`)
    return out
  })
}

/** One string per image, to compare targets. */
export function targetKey(t: AnnotationTarget): string {
  return t.kind === 'slide' ? `slide:${t.slideId}` : `instance:${t.studyInstanceUid}/${t.seriesInstanceUid}/${t.sopInstanceUid}#${t.frame ?? ''}`
}
