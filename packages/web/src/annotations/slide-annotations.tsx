/**
 * @module Everything annotation-related under one slide viewer: the codes the collection (or the
 * task) allows, the annotation layer, the image-level labels, and, when the slide was opened from a
 * task (`/wsi/:id?task=…&item=…`), the task's submit button, or in review (`&review=1`) the
 * reviewer's accept / edit / reject panel over every reader's shapes.
 */
import { useCallback, useState } from 'react'
import type OpenSeadragon from 'openseadragon'
import { ErrorMessage, errorText, useLoad } from '../components.tsx'
import { Link } from '../router.tsx'
import { useSignedIn } from '../session.tsx'
import { canAnnotate, type AdjudicationDecision, type Annotation, type CodeRef, type Geometry, type SlideInfo } from '../types.ts'
import { addImageLabel, adjudicate, deleteImageLabel, imageLabels, itemReview, submitItem, task as loadTask } from './client.ts'
import { AnnotationLayer, Swatch } from './layer.tsx'
import { CodePicker, labelColor, labelText, hash, hueColor, useCodes, type CodeBook } from './picker.tsx'
import { useAnnText } from './text.tsx'
import { shortId } from '../short-id.ts'

export interface TaskContext { taskId: string; itemId: string | null; review: boolean }

export function SlideAnnotations({ viewer, info, task }: { viewer: OpenSeadragon.Viewer; info: SlideInfo; task: TaskContext | null }) {
  const { t } = useAnnText()
  const taskInfo = useLoad((signal) => (task ? loadTask(task.taskId, signal) : Promise.resolve(null)), [task?.taskId])
  const codes = useCodes(info.collection, taskInfo.data?.vocabularyId ?? null, taskInfo.data?.level ?? null)
  const book = codes.data
  return (
    <>
      {task && taskInfo.data && (
        <p className="notice">
          <Link to={`/tasks/${encodeURIComponent(task.taskId)}`}>{t('ann.taskMode', { name: taskInfo.data.name })}</Link>
          {task.review && <> · {t('ann.reviewMode')}</>}
        </p>
      )}
      {codes.error ? <ErrorMessage error={codes.error} /> : null}
      <AnnotationLayer
        viewer={viewer}
        info={info}
        book={book}
        mode={{ taskId: task?.taskId ?? null, review: task?.review ?? false }}
        extra={({ selected, editedGeometry, reload, select }) => (
          <>
            {task?.review && task.itemId ? (
              <ReviewPanel taskId={task.taskId} itemId={task.itemId} book={book} selected={selected} editedGeometry={editedGeometry} select={select} onSaved={reload} />
            ) : task?.itemId ? (
              <SubmitPanel taskId={task.taskId} itemId={task.itemId} />
            ) : null}
            <ImageLabels slideId={info.id} book={book} taskId={task?.taskId ?? null} />
          </>
        )}
      />
    </>
  )
}

function SubmitPanel({ taskId, itemId }: { taskId: string; itemId: string }) {
  const { t } = useAnnText()
  const [state, setState] = useState<{ done?: boolean; error?: unknown; busy?: boolean }>({})
  const submit = async () => {
    setState({ busy: true })
    try {
      await submitItem(taskId, itemId)
      setState({ done: true })
    } catch (e) {
      setState({ error: e })
    }
  }
  return (
    <section className="annotation-side">
      <div className="buttons">
        <button type="button" className="primary" disabled={state.busy || state.done} onClick={() => void submit()}>
          {t('ann.submitItem')}
        </button>
      </div>
      {state.done && (
        <p className="notice success" role="status">
          {t('ann.submitted')}
        </p>
      )}
      <ErrorMessage error={state.error} />
    </section>
  )
}

function ImageLabels({ slideId, book, taskId }: { slideId: string; book: CodeBook | undefined; taskId: string | null }) {
  const { t, lang } = useAnnText()
  const session = useSignedIn()
  const labels = useLoad((signal) => imageLabels(slideId, signal), [slideId])
  const [picking, setPicking] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const add = async (label: CodeRef) => {
    setPicking(false)
    try {
      await addImageLabel(slideId, label, taskId)
      labels.reload()
    } catch (e) {
      setError(e)
    }
  }
  const remove = async (id: string) => {
    try {
      await deleteImageLabel(id)
      labels.reload()
    } catch (e) {
      setError(e)
    }
  }
  return (
    <section className="annotation-side" aria-labelledby="image-labels-title" data-testid="image-labels">
      <h3 id="image-labels-title">{t('ann.imageLabels')}</h3>
      {labels.error ? (
        <p className="muted">{errorText(labels.error)}</p>
      ) : (labels.data ?? []).length === 0 ? (
        <p className="muted">{t('ann.imageLabels.none')}</p>
      ) : (
        <ul className="review-list">
          {labels.data!.map((l) => (
            <li key={l.id}>
              <Swatch color={labelColor(l.label)} /> {labelText(book, l.label, lang)} <span className="muted">· {l.author === session.user.id ? session.user.username : (l.authorName ?? shortId(l.author))}</span>
              {(l.author === session.user.id || session.user.isAdmin) && (
                <button type="button" onClick={() => void remove(l.id)}>
                  {t('ann.remove')}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {canAnnotate(session) && book && !picking && (
        <button type="button" onClick={() => setPicking(true)}>
          {t('ann.imageLabels.add')}
        </button>
      )}
      {picking && book && <CodePicker book={book} title={t('ann.imageLabels.add')} onPick={(c) => void add(c)} onCancel={() => setPicking(false)} />}
      <ErrorMessage error={error} />
    </section>
  )
}

/**
 * Every reader's shapes are already on the slide as layers coloured by author (the layer's review
 * mode); this panel lists them by reader and keeps one decision per shape until the reviewer saves.
 */
function ReviewPanel({ taskId, itemId, book, selected, editedGeometry, select, onSaved }: {
  taskId: string; itemId: string; book: CodeBook | undefined; selected: Annotation | null; editedGeometry: Geometry | null; select(id: string | null): void; onSaved(): void
}) {
  const { t, lang } = useAnnText()
  const review = useLoad((signal) => itemReview(taskId, itemId, signal), [taskId, itemId])
  const [decisions, setDecisions] = useState<Map<string, AdjudicationDecision>>(new Map())
  const [state, setState] = useState<{ saved?: boolean; error?: unknown }>({})
  const decide = useCallback((d: AdjudicationDecision) => setDecisions((m) => new Map(m).set(d.sources[0]!, d)), [])
  const all = (review.data?.readers ?? []).flatMap((r) => r.annotations)
  const save = async () => {
    try {
      await adjudicate(taskId, itemId, [...decisions.values()])
      setState({ saved: true })
      setDecisions(new Map())
      review.reload()
      onSaved()
    } catch (e) {
      setState({ error: e })
    }
  }
  if (review.error) return <ErrorMessage error={review.error} />
  return (
    <section className="annotation-side" aria-label={t('ann.reviewMode')} data-testid="review-panel">
      <h3>{t('ann.reviewMode')}</h3>
      <p className="muted">{t('ann.review.progress', { done: decisions.size + all.filter((a) => a.status === 'accepted' || a.status === 'rejected').length, total: all.length })}</p>
      {(review.data?.readers ?? []).map((r) => (
        <div key={r.id}>
          <strong>
            <Swatch color={hueColor(hash(r.id) % 360)} /> {r.username || shortId(r.id)}
          </strong>
          <ul className="review-list">
            {r.annotations.map((a) => {
              const d = decisions.get(a.id)
              return (
                <li key={a.id}>
                  <button type="button" aria-pressed={selected?.id === a.id} onClick={() => select(a.id)}>
                    {labelText(book, a.label, lang)} · {t(`ann.kind.${a.shape}`)}
                  </button>
                  <button type="button" onClick={() => decide({ sources: [a.id], decision: 'accepted' })}>
                    {t('ann.accept')}
                  </button>
                  <button type="button" onClick={() => decide({ sources: [a.id], decision: 'rejected' })}>
                    {t('ann.reject')}
                  </button>
                  {selected?.id === a.id && editedGeometry && (
                    <button type="button" onClick={() => decide({ sources: [a.id], decision: 'edited', geometry: editedGeometry })}>
                      {t('ann.acceptEdit')}
                    </button>
                  )}
                  <span className="decision">{d ? t(`ann.decided.${d.decision}`) : a.status === 'accepted' || a.status === 'rejected' ? t(`ann.status.${a.status}`) : ''}</span>
                </li>
              )
            })}
          </ul>
        </div>
      ))}
      <div className="buttons">
        <button type="button" className="primary" disabled={decisions.size === 0} onClick={() => void save()}>
          {t('ann.saveDecisions')}
        </button>
      </div>
      {state.saved && (
        <p className="notice success" role="status">
          {t('ann.decisionsSaved')}
        </p>
      )}
      <ErrorMessage error={state.error} />
    </section>
  )
}
