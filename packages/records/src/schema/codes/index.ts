/**
 * @module The shipped vocabularies as one lookup: which code list each record field draws from, and whether a
 * (system, code) pair exists. Validation and the adapters' unmapped-term report both ask here, so a term map
 * entry that names a code we do not ship is caught as early as the record it produces.
 */
import { MST_DIAGNOSES, MST_FINDINGS, MST_NOTICE, MST_SITES, type Term } from './mst.ts'
import { ADVERSE_EVENTS, ANTITHROMBOTICS, EXAM_TYPES, INDICATIONS, JNET, PARIS, PROCEDURES, SEDATION_DRUGS, SPECIMEN_TYPES } from './kura.ts'

export { MST_NOTICE, MST_SITES, MST_FINDINGS, MST_DIAGNOSES, type Term }
export { EXAM_TYPES, INDICATIONS, SEDATION_DRUGS, ANTITHROMBOTICS, PROCEDURES, ADVERSE_EVENTS, PARIS, JNET, SPECIMEN_TYPES }

/** A named code list: the system its codes belong to and the terms. */
export interface CodeList {
  name: CodeListName
  system: string
  terms: ReadonlyMap<string, Term>
}

export type CodeListName =
  | 'site' | 'finding' | 'diagnosis' | 'indication' | 'sedation' | 'antithrombotic' | 'procedure' | 'adverse-event'
  | 'paris' | 'jnet' | 'specimen-type'

const list = (name: CodeListName, system: string, terms: readonly Term[]): CodeList => ({ name, system, terms: new Map(terms.map((x) => [x.code, x])) })

/** Every shipped list by name. */
export const CODE_LISTS: ReadonlyMap<CodeListName, CodeList> = new Map(
  [
    list('site', 'MST3', MST_SITES),
    list('finding', 'MST3', MST_FINDINGS),
    list('diagnosis', 'MST3', MST_DIAGNOSES),
    list('indication', 'KURA', INDICATIONS),
    list('sedation', 'KURA', SEDATION_DRUGS),
    list('antithrombotic', 'KURA', ANTITHROMBOTICS),
    list('procedure', 'KURA', PROCEDURES),
    list('adverse-event', 'KURA', ADVERSE_EVENTS),
    list('paris', 'PARIS', PARIS),
    list('jnet', 'JNET', JNET),
    list('specimen-type', 'KURA', SPECIMEN_TYPES),
  ].map((l) => [l.name, l]),
)

/** Systems whose codes Kura does not ship but accepts by form (checked by pattern only). */
export const EXTERNAL_SYSTEMS: ReadonlyMap<string, RegExp> = new Map([
  ['ICD10', /^[A-Z]\d{2}(?:\.\d{1,2})?$/],
  ['JJ1017', /^[0-9A-Z]{1,32}$/],
  ['SNOMED-CT', /^\d{6,18}$/],
])

/** The term for `code` in the named list, if shipped. */
export function findTerm(listName: CodeListName, code: string): Term | undefined {
  return CODE_LISTS.get(listName)?.terms.get(code)
}

/** `LOCAL:<site>` marks a source's own code that no term map translated yet. */
export const isLocalSystem = (system: string): boolean => system.startsWith('LOCAL:')
