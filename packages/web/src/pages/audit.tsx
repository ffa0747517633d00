/** @module Audit: events newest first, filters, paging backwards by `before=seq`, and the hash-chain check. */
import { useState, type FormEvent } from 'react'
import { api, withQuery } from '../api.ts'
import { ErrorMessage, Field, LoadState, Page, useLoad } from '../components.tsx'
import { useI18n } from '../i18n.tsx'
import type { AuditEvent, AuditVerify } from '../types.ts'

const PAGE = 100

interface Filters {
  actor: string
  action: string
  from: string
  to: string
}

export function Audit() {
  const { t, dateTime } = useI18n()
  const empty: Filters = { actor: '', action: '', from: '', to: '' }
  const [form, setForm] = useState<Filters>(empty)
  const [applied, setApplied] = useState<Filters>(empty)
  // Stack of `before` cursors: the last is the current page; popping goes back toward the newest.
  const [cursors, setCursors] = useState<(number | undefined)[]>([undefined])
  const before = cursors[cursors.length - 1]
  const path = withQuery('/api/audit', {
    limit: PAGE,
    before,
    actor: applied.actor,
    action: applied.action,
    from: applied.from ? new Date(applied.from).toISOString() : undefined,
    to: applied.to ? new Date(applied.to).toISOString() : undefined,
  })
  const events = useLoad((signal) => api.get<{ events: AuditEvent[] }>(path, { signal }).then((r) => r.events), [path])
  const [verify, setVerify] = useState<AuditVerify | null>(null)
  const [verifyError, setVerifyError] = useState<unknown>(null)
  const [verifying, setVerifying] = useState(false)

  const runVerify = async () => {
    setVerifying(true)
    setVerify(null)
    setVerifyError(null)
    try {
      setVerify(await api.get<AuditVerify>('/api/audit/verify'))
    } catch (err) {
      setVerifyError(err)
    } finally {
      setVerifying(false)
    }
  }
  const submit = (e: FormEvent) => {
    e.preventDefault()
    setApplied(form)
    setCursors([undefined])
  }
  const set = (k: keyof Filters) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value })

  return (
    <Page
      title={t('audit.title')}
      actions={
        <button type="button" onClick={runVerify} disabled={verifying}>
          {t('audit.verify')}
        </button>
      }
    >
      {verify && (
        <p className={`notice ${verify.ok ? 'success' : 'error'}`} role="status">
          {verify.ok ? t('audit.verifyOk', { events: verify.events }) : t('audit.verifyBad', { seq: verify.firstBad ?? '?', reason: verify.reason ?? '' })}
        </p>
      )}
      <ErrorMessage error={verifyError} />
      <form onSubmit={submit} className="filters" role="search" aria-label={t('audit.filter')}>
        <Field label={t('audit.actor')}>{(id) => <input id={id} name="actor" value={form.actor} onChange={set('actor')} />}</Field>
        <Field label={t('audit.action')}>{(id) => <input id={id} name="action" value={form.action} onChange={set('action')} />}</Field>
        <Field label={t('audit.from')}>{(id) => <input id={id} name="from" type="datetime-local" value={form.from} onChange={set('from')} />}</Field>
        <Field label={t('audit.to')}>{(id) => <input id={id} name="to" type="datetime-local" value={form.to} onChange={set('to')} />}</Field>
        <div className="field buttons">
          <button type="submit" className="primary">
            {t('audit.filter')}
          </button>
        </div>
      </form>
      <LoadState state={events}>
        {(rows) => (
          <>
            {rows.length === 0 ? (
              <p className="notice">{t('audit.none')}</p>
            ) : (
              <div className="scroll">
                <table className="audit">
                  <thead>
                    <tr>
                      <th scope="col" className="num">
                        {t('audit.seq')}
                      </th>
                      <th scope="col">{t('audit.at')}</th>
                      <th scope="col">{t('audit.actor')}</th>
                      <th scope="col">{t('audit.action')}</th>
                      <th scope="col">{t('audit.resource')}</th>
                      <th scope="col">{t('audit.collection')}</th>
                      <th scope="col">{t('audit.ip')}</th>
                      <th scope="col">{t('audit.outcome')}</th>
                      <th scope="col" className="num">
                        {t('audit.status')}
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((ev) => (
                      <tr key={ev.seq} className={ev.status !== null && ev.status >= 400 ? 'flag' : undefined}>
                        <th scope="row" className="num">
                          {ev.seq}
                        </th>
                        <td>{dateTime(ev.at)}</td>
                        <td>
                          {ev.actor ?? ''} <small className="muted">{ev.actorKind}</small>
                        </td>
                        <td>{ev.action}</td>
                        <td className="wrap">{ev.resource ?? ''}</td>
                        <td>{ev.collection ?? ''}</td>
                        <td>{ev.ip ?? ''}</td>
                        <td>{ev.outcome}</td>
                        <td className="num">{ev.status ?? ''}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            <nav className="paging" aria-label={t('studies.paging')}>
              <button type="button" disabled={cursors.length === 1} onClick={() => setCursors([undefined])}>
                {t('audit.newest')}
              </button>
              <button type="button" disabled={rows.length < PAGE} onClick={() => setCursors([...cursors, rows[rows.length - 1]!.seq])}>
                {t('audit.older')} →
              </button>
            </nav>
          </>
        )}
      </LoadState>
    </Page>
  )
}
