/** @module Test helpers for interchange: the shared sample folder and drafts completed into annotations. */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Annotation } from '../model.ts'
import type { AnnotationDraft } from './draft.ts'

/** The public annotation fixtures (wsidicom's, Apache-2.0): read only, never written. */
export const SAMPLES = process.env.KURA_ANNOTATION_SAMPLES ?? '/work/shared/data/annotations'

export const sampleFiles = (dir: string) =>
  readdirSync(join(SAMPLES, dir))
    .sort()
    .map((f) => join(SAMPLES, dir, f))

export const readSample = (path: string) => readFileSync(path, 'utf8')

export const TISSUE = 'KURA-HE-TISSUE'

/** Drafts as stored annotations on one slide (the tests' stand-in for the repository), with fixed ids and times so exports compare. */
export function asAnnotations(drafts: AnnotationDraft[], slideId = '00000000-0000-7000-8000-000000000001'): Annotation[] {
  return drafts.map((d, i) => ({
    id: `00000000-0000-7000-8000-${String(i + 1).padStart(12, '0')}`,
    target: { kind: 'slide', slideId },
    author: 'tester',
    createdAt: d.createdAt ?? '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    confidence: d.confidence ?? null,
    status: 'submitted',
    taskId: null,
    shape: d.shape,
    geometry: d.geometry,
    label: d.label,
    ...(d.ellipse ? { ellipse: d.ellipse } : {}),
    ...(d.properties ? { properties: d.properties } : {}),
  }))
}
