export { createRng, type Rng } from './rng.js';
export { momentAt, peaksOf, type Peak, type Moment } from './calendar.js';
export { generateCatalogue, type SimCatalogue, type SimSku } from './catalogue.js';
export { generateCustomers, type SimCustomer, type PaymentHabit } from './people.js';
export { generatePlan, planSummary, type Plan, type PlanOptions, type PlannedSession, type FraudPattern } from './plan.js';
export { runHistory, SIM_LOCATION, type HistoryOptions, type HistoryResult } from './history.js';
export { simulateHistory, type SimulateHistoryInput } from './run.js';
export { runLive, type LiveOptions, type LiveResult, type AcknowledgedOrder } from './live.js';
export { processorClient, postForm, CARDS, type ProcessorClient } from './processor.js';
