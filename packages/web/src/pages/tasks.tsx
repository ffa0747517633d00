/**
 * @module Annotation tasks: `/tasks` lists the tasks the hub shows the user (an annotator only those
 * assigned to them; the hub decides) with their progress, and `/tasks/:id` shows one task's items
 * with the user's assignment state (open an item in the viewer in task mode), progress per
 * annotator, a review link per item for reviewers, and the agreement table (κ, Dice, IoU per label
 * and per annotator). Loaded lazily, with the annotation text.
 */
import { LoadState, Page, useLoad } from '../components.tsx'
import { Link } from '../router.tsx'
import { useSignedIn } from '../session.tsx'
import type { AnnotationTask, MetricValue, TaskAgreement, TaskDetail, UserRef } from '../types.ts'
import { agreement, task as loadTask, tasks as loadTasks } from '../annotations/client.ts'
import { labelText, useCodes, type CodeBook } from '../annotations/picker.tsx'
import { useAnnText } from '../annotations/text.tsx'
import { useI18n } from '../i18n.tsx'
import '../annotations/annotations.css'
import { shortId } from '../short-id.ts'

export function Tasks() {
  const { t } = useAnnText()
  const { dateTime } = useI18n()
  const state = useLoad((signal) => loadTasks(signal), [])
  return (
    <Page title={t('tasks.title')}>
      <LoadState state={state}>
        {(rows) =>
          rows.length === 0 ? (
            <p className="notice">{t('tasks.none')}</p>
          ) : (
            <table data-testid="task-list">
              <thead>
                <tr>
                  <th scope="col">{t('tasks.name')}</th>
                  <th scope="col">{t('tasks.collection')}</th>
                  <th scope="col">{t('tasks.progress')}</th>
                  <th scope="col">{t('tasks.created')}</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((task) => (
                  <tr key={task.id} data-task-id={task.id}>
                    <th scope="row">
                      <Link to={`/tasks/${encodeURIComponent(task.id)}`}>{task.name}</Link>
                    </th>
                    <td>{task.collection}</td>
                    <td>
                      <Progress task={task} />
                    </td>
                    <td>{dateTime(task.createdAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </LoadState>
    </Page>
  )
}

function Progress({ task }: { task: AnnotationTask }) {
  const { t } = useAnnText()
  const p = task.progress
  if (!p) return <span className="muted">—</span>
  return (
    <span>
      <progress className="progress-bar" max={Math.max(1, p.assignments)} value={p.submitted} /> {t('tasks.progressOf', { done: p.submitted, total: p.assignments })}
    </span>
  )
}

export function Task({ id }: { id: string }) {
  const { t } = useAnnText()
  const session = useSignedIn()
  const info = useLoad((signal) => loadTask(id, signal), [id])
  const back = <Link to="/tasks">← {t('task.back')}</Link>
  return (
    <Page title={t('task.title', { name: info.data?.name ?? shortId(id) })} actions={back}>
      <LoadState state={info}>
        {(task: TaskDetail) => {
          const reviewer = task.myRole.reviewer
          const p = task.progress
          return (
            <>
              {task.description && <p>{task.description}</p>}
              <p>
                {task.collection} · <progress className="progress-bar" max={Math.max(1, p.assignments)} value={p.submitted} /> {t('tasks.progressOf', { done: p.submitted, total: p.assignments })}
                {p.itemsAdjudicated > 0 && <span className="muted"> · {t('tasks.reviewed', { n: p.itemsAdjudicated })}</span>}
              </p>
              <h2>{t('task.items')}</h2>
              <table data-testid="task-items">
                <thead>
                  <tr>
                    <th scope="col">{t('task.item')}</th>
                    <th scope="col">{t('task.myState')}</th>
                    {reviewer && <th scope="col">{t('task.readers')}</th>}
                    <th scope="col" />
                  </tr>
                </thead>
                <tbody>
                  {task.itemProgress.map((item) => {
                    const slide = item.target.kind === 'slide' ? item.target.slideId : null
                    const mine = item.assignments.find((a) => a.user.id === session.user.id) ?? null
                    const base = slide ? `/wsi/${encodeURIComponent(slide)}?task=${encodeURIComponent(task.id)}&item=${encodeURIComponent(item.id)}` : null
                    return (
                      <tr key={item.id} data-item-id={item.id}>
                        <th scope="row">
                          {item.position + 1}. <code>{slide ? shortId(slide) : item.target.kind === 'instance' ? item.target.sopInstanceUid : ''}</code>
                        </th>
                        <td>
                          {mine ? t(`task.state.${mine.state}`) : '—'}
                          {item.adjudicated && <span className="muted"> · {t('task.adjudicated')}</span>}
                        </td>
                        {reviewer && <td>{item.assignments.map((a) => `${a.user.username}: ${t(`task.state.${a.state}`)}`).join(', ')}</td>}
                        <td>
                          {base && mine && <Link to={base}>{t('task.open')}</Link>}
                          {base && reviewer && (
                            <>
                              {' '}
                              <Link to={`${base}&review=1`}>{t('task.review')}</Link>
                            </>
                          )}
                        </td>
                      </tr>
                    )
                  })}
                </tbody>
              </table>
              {task.annotators.length > 0 && (
                <>
                  <h2>{t('task.perAnnotator')}</h2>
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">{t('task.annotator')}</th>
                        <th scope="col">{t('task.assigned')}</th>
                        <th scope="col">{t('task.submittedCount')}</th>
                      </tr>
                    </thead>
                    <tbody>
                      {task.annotators.map((a) => {
                        const assigned = a.todo + a.inProgress + a.submitted
                        return (
                          <tr key={a.id}>
                            <th scope="row">{a.username}</th>
                            <td>{assigned}</td>
                            <td>
                              <progress className="progress-bar" max={Math.max(1, assigned)} value={a.submitted} /> {a.submitted}
                            </td>
                          </tr>
                        )
                      })}
                    </tbody>
                  </table>
                </>
              )}
              {reviewer && <Agreement task={task} />}
            </>
          )
        }}
      </LoadState>
    </Page>
  )
}

const num = (v: MetricValue | undefined) => (v && v.value !== null && Number.isFinite(v.value) ? v.value.toFixed(3) : '—')
const why = (v: MetricValue | undefined) => v?.reason

/** Labels in the agreement report are `system:code`. */
function labelName(book: CodeBook | undefined, key: string, lang: 'ja' | 'en'): string {
  const i = key.lastIndexOf(':')
  return i > 0 ? labelText(book, { system: key.slice(0, i), code: key.slice(i + 1) }, lang) : key
}

function Agreement({ task }: { task: TaskDetail }) {
  const { t, lang } = useAnnText()
  const state = useLoad((signal) => agreement(task.id, signal), [task.id])
  const codes = useCodes(task.collection, task.vocabularyId, task.level)
  const userName = (users: UserRef[], id: string) => users.find((u) => u.id === id)?.username ?? shortId(id)
  const Cell = ({ v }: { v: MetricValue | undefined }) => (
    <td className="num" title={why(v)}>
      {num(v)}
    </td>
  )
  return (
    <section aria-labelledby="agreement-title" data-testid="agreement">
      <h2 id="agreement-title">{t('task.agreement')}</h2>
      <LoadState state={state}>
        {(a: TaskAgreement) =>
          a.itemsWithTwoReadings === 0 ? (
            <p className="muted">{t('task.agreement.none')}</p>
          ) : (
            <>
              <p>{t('task.agreement.overall', { kappa: num(a.imageLabels.overall.kappa), items: a.imageLabels.overall.items })}</p>
              <h3>{t('task.agreement.perLabel')}</h3>
              <table className="agreement">
                <thead>
                  <tr>
                    <th scope="col">{t('task.label')}</th>
                    <th scope="col">{t('task.kappa')}</th>
                    <th scope="col">{t('task.dice')}</th>
                    <th scope="col">{t('task.iou')}</th>
                    <th scope="col">{t('task.n')}</th>
                  </tr>
                </thead>
                <tbody>
                  {[...new Set([...a.imageLabels.perLabel.map((l) => l.label), ...a.regions.perLabel.map((l) => l.label)])].map((label) => {
                    const k = a.imageLabels.perLabel.find((l) => l.label === label)
                    const r = a.regions.perLabel.find((l) => l.label === label)
                    return (
                      <tr key={label}>
                        <th scope="row">{labelName(codes.data, label, lang)}</th>
                        <Cell v={k?.kappa} />
                        <Cell v={r?.dice} />
                        <Cell v={r?.iou} />
                        <td className="num">{Math.max(k?.items ?? 0, r?.items ?? 0)}</td>
                      </tr>
                    )
                  })}
                </tbody>
              </table>
              <h3>{t('task.agreement.perAnnotator')}</h3>
              <table className="agreement">
                <thead>
                  <tr>
                    <th scope="col">{t('task.annotator')}</th>
                    <th scope="col">{t('task.dice')}</th>
                    <th scope="col">{t('task.iou')}</th>
                    <th scope="col">{t('task.n')}</th>
                  </tr>
                </thead>
                <tbody>
                  {a.regions.perAnnotator.map((r) => (
                    <tr key={r.rater}>
                      <th scope="row">{userName(a.users, r.rater)}</th>
                      <Cell v={r.dice} />
                      <Cell v={r.iou} />
                      <td className="num">{r.items}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {a.imageLabels.pairs.length > 0 && (
                <>
                  <h3>{t('task.agreement.pairs')}</h3>
                  <table className="agreement">
                    <thead>
                      <tr>
                        <th scope="col">{t('task.annotator')}</th>
                        <th scope="col">{t('task.kappa')}</th>
                        <th scope="col">{t('task.n')}</th>
                      </tr>
                    </thead>
                    <tbody>
                      {a.imageLabels.pairs.map((p) => (
                        <tr key={`${p.a}-${p.b}`}>
                          <th scope="row">
                            {userName(a.users, p.a)} × {userName(a.users, p.b)}
                          </th>
                          <Cell v={p.kappa} />
                          <td className="num">{p.items}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </>
              )}
            </>
          )
        }
      </LoadState>
    </section>
  )
}
