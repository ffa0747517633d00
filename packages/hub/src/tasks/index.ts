/** @module Annotation tasks: the routes, the service the annotation API calls for task work, and the agreement metrics. */
export { taskRoutes } from './routes.ts'
export { checkTaskWork, createTask, listTasks, visibleTask, roundRobin, type TaskCaller, type TaskContext } from './service.ts'
export { adjudicate, groundTruth, reviewItem, type Provenance } from './adjudication.ts'
export { agreementOf, agreementAsCsv } from './agreement-report.ts'
export { TaskErrors } from './errors.ts'
export * from './agreement/index.ts'
