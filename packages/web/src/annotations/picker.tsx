/**
 * @module The vocabulary picker: labels are codes, never free text, so every label comes from here.
 * It lists only the codes of the collection's (or the task's) vocabularies at the level the
 * collection chose, searchable by code or by meaning in Japanese or English, with the user's recent
 * labels first (1–9 pick them). `useCodes` loads those codes once per collection.
 */
import { useEffect, useMemo, useRef, useState } from 'react'
import { useLoad, type Loaded } from '../components.tsx'
import type { CodeRef, VocabularyCode } from '../types.ts'
import { collectionVocabularies, vocabulary } from './client.ts'
import { useAnnText } from './text.tsx'

export const codeKey = (c: Pick<CodeRef, 'system' | 'code'>) => `${c.system}|${c.code}`

export interface CodeBook {
  codes: VocabularyCode[]
  byKey: Map<string, VocabularyCode>
}

/** The codes the collection's annotators may use (or the task's vocabulary's, at the task's level, when a task names one). */
export function useCodes(collection: string, taskVocabulary?: string | null, taskLevel?: number | null): Loaded<CodeBook> {
  return useLoad(async (signal) => {
    const ofCollection = await collectionVocabularies(collection, signal)
    const chosen = taskVocabulary
      ? [{ id: taskVocabulary, level: taskLevel ?? ofCollection.find((v) => v.vocabulary.id === taskVocabulary)?.level ?? null }]
      : ofCollection.map((v) => ({ id: v.vocabulary.id, level: v.level }))
    const lists = await Promise.all(chosen.map((v) => vocabulary(v.id, v.level, signal)))
    const codes = lists.flatMap((l) => l.codes).filter((c) => !c.status || c.status === 'active')
    return { codes, byKey: new Map(codes.map((c) => [codeKey(c), c])) }
  }, [collection, taskVocabulary, taskLevel])
}

const RECENT_KEY = 'kura.recentLabels'

export function recentLabels(): CodeRef[] {
  try {
    const v = JSON.parse(localStorage.getItem(RECENT_KEY) ?? '[]') as CodeRef[]
    return Array.isArray(v) ? v.slice(0, 9) : []
  } catch {
    return []
  }
}

export function rememberLabel(c: CodeRef): void {
  const next = [{ system: c.system, code: c.code, version: c.version }, ...recentLabels().filter((r) => codeKey(r) !== codeKey(c))].slice(0, 9)
  localStorage.setItem(RECENT_KEY, JSON.stringify(next))
}

export function meaningOf(book: CodeBook | undefined, c: Pick<CodeRef, 'system' | 'code'>, lang: 'ja' | 'en'): string {
  const hit = book?.byKey.get(codeKey(c))
  return hit ? hit.meaning[lang] || hit.meaning.en || hit.meaning.ja : ''
}

export function labelText(book: CodeBook | undefined, c: Pick<CodeRef, 'system' | 'code'>, lang: 'ja' | 'en'): string {
  const m = meaningOf(book, c, lang)
  return m ? `${m} (${c.code})` : `${c.system} ${c.code}`
}

/** A search box over the codes; `onPick` gets the chosen code, `onCancel` Esc or the button. */
export function CodePicker({ book, title, onPick, onCancel }: { book: CodeBook; title: string; onPick(c: CodeRef): void; onCancel(): void }) {
  const { t, lang } = useAnnText()
  const [q, setQ] = useState('')
  const input = useRef<HTMLInputElement>(null)
  useEffect(() => input.current?.focus(), [])
  const recent = useMemo(() => recentLabels().filter((r) => book.byKey.has(codeKey(r))), [book])
  const matches = useMemo(() => {
    const needle = q.trim().toLowerCase()
    const hit = (c: VocabularyCode) => !needle || c.code.toLowerCase().includes(needle) || c.meaning.en.toLowerCase().includes(needle) || c.meaning.ja.includes(q.trim())
    return book.codes.filter(hit).slice(0, 200)
  }, [q, book])
  const pick = (c: VocabularyCode | CodeRef) => {
    const ref: CodeRef = { system: c.system, code: c.code, version: c.version }
    rememberLabel(ref)
    onPick(ref)
  }
  const onKey = (e: React.KeyboardEvent) => {
    if (e.key === 'Escape') {
      e.preventDefault()
      onCancel()
    } else if (e.key === 'Enter' && matches[0]) {
      e.preventDefault()
      pick(matches[0])
    } else if (/^[1-9]$/.test(e.key) && !q && recent[Number(e.key) - 1]) {
      e.preventDefault()
      pick(recent[Number(e.key) - 1]!)
    }
  }
  return (
    <section className="code-picker" role="dialog" aria-label={title} onKeyDown={onKey} data-testid="code-picker">
      <h3>{title}</h3>
      {book.codes.length === 0 ? (
        <p className="notice warning">{t('ann.noVocabulary')}</p>
      ) : (
        <>
          <label>
            {t('ann.search')}
            <input ref={input} type="search" value={q} onChange={(e) => setQ(e.target.value)} />
          </label>
          {recent.length > 0 && !q && (
            <div className="recent" role="group" aria-label={t('ann.recent')}>
              {recent.map((r, i) => (
                <button key={codeKey(r)} type="button" onClick={() => pick(r)}>
                  <kbd>{i + 1}</kbd> {labelText(book, r, lang)}
                </button>
              ))}
            </div>
          )}
          <ul className="codes" role="list">
            {matches.map((c) => (
              <li key={codeKey(c)}>
                <button type="button" onClick={() => pick(c)} lang={lang}>
                  <span className="swatch" data-color={colorCss(labelColor(c))} ref={paintSwatch} /> <code>{c.code}</code> {c.meaning[lang] || c.meaning.en}
                  {lang === 'ja' ? <span className="muted"> · {c.meaning.en}</span> : c.meaning.ja ? <span className="muted" lang="ja"> · {c.meaning.ja}</span> : null}
                </button>
              </li>
            ))}
          </ul>
          {matches.length === 0 && <p className="muted">{t('ann.noCodes')}</p>}
        </>
      )}
      <button type="button" onClick={onCancel}>
        {t('ann.cancel')}
      </button>
    </section>
  )
}

/** Colours come from the code itself, so a label looks the same on every slide and for every user. */
export function labelColor(c: Pick<CodeRef, 'system' | 'code'>): [number, number, number, number] {
  return hueColor(hash(codeKey(c)))
}

export function hash(s: string): number {
  let h = 2166136261
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619)
  return h >>> 0
}

/** A saturated colour of the hue `h` (mod 360), as 0..1 RGBA. */
export function hueColor(h: number, alpha = 0.95): [number, number, number, number] {
  const hue = (h % 360) / 60
  const x = 1 - Math.abs((hue % 2) - 1)
  const [r, g, b] = hue < 1 ? [1, x, 0] : hue < 2 ? [x, 1, 0] : hue < 3 ? [0, 1, x] : hue < 4 ? [0, x, 1] : hue < 5 ? [x, 0, 1] : [1, 0, x]
  // Darken a little so yellow and cyan stay visible on pale H&E.
  return [r * 0.85, g * 0.85, b * 0.85, alpha]
}

export const colorCss = (c: [number, number, number, number]) => `rgb(${c.slice(0, 3).map((v) => Math.round(v * 255)).join(' ')})`

/** The CSP forbids inline style attributes, so swatches get their colour through the CSSOM. */
export function paintSwatch(el: HTMLElement | null): void {
  if (el?.dataset.color) el.style.background = el.dataset.color
}
