/** @module Agreement metrics for annotation tasks (pure): kappa for labels, Dice/IoU for regions, F1 for points. */
export { metric, undefinedMetric, meanOf, type MetricValue } from './metric.ts'
export { cohenKappa, fleissKappa, perLabelKappa, type PairAgreement, type GroupAgreement, type LabelAgreement, type RatingPair } from './kappa.ts'
export { overlap, unionOf, areaOf, ringArea, polygonsOf, type Overlap, type Region } from './regions.ts'
export { matchPoints, pointsOf, type PointMatch } from './points.ts'
export { taskAgreement, type AgreementInput, type AgreementReport, type RegionEntry, type PointEntry, type MeanOverlap } from './task-agreement.ts'
export { agreementCsv } from './csv.ts'
