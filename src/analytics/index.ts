export { createAnalyticsService as createAnalytics, type Analytics, type AnalyticsDeps, type QueryOptions, QueryTimeoutError } from './service.js';
export { QualityCheckFailed } from './etl.js';
export { MissingExtensionError, REQUIRED_EXTENSIONS } from './warehouse.js';
export { CONSUMED_TYPES, MARTS } from './mapping.js';
export { DEFAULT_CHECKS, type QualityCheck, type CheckResult } from './quality.js';
export { pseudonym } from './silo.js';
export type { DemandSeries } from './demand.js';
export { piiOf, type PiiClass } from './catalog.js';
