/** @module @kura/deid: PS3.15 Annex E de-identification rules (Table E.1-1) and their option semantics. */
export { DeidErrors } from './errors.ts'
export { OPTIONS, OPTION_CODES, BASIC_PROFILE_CODE, isOption, parseOptions, methodCodes, type Option, type MethodCode } from './profile/options.ts'
export { ruleFor, ruleTable, buildTable, OPTION_COLUMNS, type Rule, type RuleTable, type TableCode } from './profile/table.ts'
export { actionFor, resolveCode, type Action, type ActionContext, type AttributeType, type SafePrivate } from './profile/action.ts'
