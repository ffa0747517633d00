/**
 * @module A task's agreement report from the catalog: loads the readers' submitted work (never drafts, never the
 * reviewer's ground-truth copies) and hands it to the pure metrics in agreement/.
 */
import type { Kysely } from 'kysely'
import type { Database } from '@kura/storage'
import { listImageLabels } from '../annotations/image-labels.ts'
import { agreementCsv, taskAgreement, type AgreementReport } from './agreement/index.ts'
import { targetKey } from './input.ts'
import { userRefs } from './members.ts'
import type { UserRef } from './model.ts'
import { allAnnotations, groundTruthIds, itemOf, type TaskContext } from './service.ts'

type Db = Kysely<Database>

export const DEFAULT_POINT_RADIUS = 10

export interface TaskAgreement extends AgreementReport {
  task: string
  /** Rater ids in the report, with their user names. */
  users: UserRef[]
  /** Items with at least two submitted readings (the ones that can show agreement). */
  itemsWithTwoReadings: number
}

export async function agreementOf(db: Db, ctx: TaskContext, opts: { pointRadius?: number } = {}): Promise<TaskAgreement> {
  const task = ctx.task
  const items = (await db.selectFrom('task_item').selectAll().where('task_id', '=', task.id).execute()).map(itemOf)
  const itemOfTarget = new Map(items.map((it) => [targetKey(it.target), it.id]))
  const submitted = new Map<string, string[]>()
  for (const a of await db.selectFrom('task_assignment').select(['item_id', 'user_id']).where('task_id', '=', task.id).where('state', '=', 'submitted').execute()) {
    submitted.set(a.item_id, [...(submitted.get(a.item_id) ?? []), a.user_id])
  }
  const gt = await groundTruthIds(db, task.id)
  const statuses = ['submitted' as const, 'accepted' as const, 'rejected' as const]
  const annotations = (await allAnnotations(db, { taskIds: [task.id], statuses }))
    .filter((a) => !gt.has(a.id))
    .flatMap((a) => {
      const item = itemOfTarget.get(targetKey(a.target))
      return item ? [{ item, rater: a.author, label: `${a.label.system}:${a.label.code}`, geometry: a.geometry }] : []
    })
  const imageLabels = (await listImageLabels(db, { taskIds: [task.id], statuses }))
    .filter((l) => !gt.has(l.id))
    .flatMap((l) => {
      const item = itemOfTarget.get(targetKey(l.target))
      return item ? [{ item, rater: l.author, label: `${l.label.system}:${l.label.code}` }] : []
    })
  const report = taskAgreement({ submitted, annotations, imageLabels, regions: task.kind !== 'image-label', pointRadius: opts.pointRadius ?? DEFAULT_POINT_RADIUS })
  const users = await userRefs(db, report.raters)
  return {
    task: task.id,
    ...report,
    users: report.raters.map((id) => users.get(id) ?? { id, username: '' }),
    itemsWithTwoReadings: [...submitted.values()].filter((r) => r.length >= 2).length,
  }
}

export function agreementAsCsv(r: TaskAgreement): string {
  const names = new Map(r.users.map((u) => [u.id, u.username || u.id]))
  return agreementCsv(r, (id) => names.get(id) ?? id)
}
