import { outboxWaker } from '../events/index.js';
import type { Config, PaymentsConfig } from '../platform/config.js';
import type { Clock } from '../platform/clock.js';
import type { Database } from '../platform/db.js';
import type { HttpModule } from '../platform/http.js';
import type { Logger } from '../platform/log.js';
import { counter, histogram, type Metrics } from '../platform/metrics.js';
import { intervalWorker, type Worker } from '../platform/worker.js';
import type { PaymentConnector } from './connectors/port.js';
import { mercadoPagoConnector } from './connectors/mercadopago.js';
import { transbankConnector } from './connectors/transbank.js';
import type { Core } from './core.js';
import { paymentsRoutes } from './http.js';
import { createJanitor, type JanitorItem } from './janitor.js';
import { addFileKey, loadKeyring, retireFileKeys, type Keyring } from './keyring.js';
import { createNotifications, type WebhookRequest } from './notifications.js';
import { fraudAdminRoutes } from './fraud/http.js';
import { createFraud, type FraudReview, type FraudReviewQueue, type FraudRuleReportRow, type FraudSignals, type RuleSetView } from './fraud/service.js';
import { createRefunds, type RefundInput, type RefundResult } from './refunds.js';
import { createAttempts, type AttemptView, type StartPaymentInput, type StartPaymentResult } from './service.js';
import { createSettlements, type Reconciliation } from './settlements.js';
import { paymentsOperations, type PaymentsOperations } from './operations.js';
import * as store from './store.js';
import { createVault, type InscriptionStart, type SavedCard } from './vault.js';

export type { PaymentsOperations } from './operations.js';
export type { AttemptView, InscriptionStart, JanitorItem, Reconciliation, RefundInput, RefundResult, SavedCard, StartPaymentInput, StartPaymentResult };
export type { Method, AttemptStatus } from './domain/attempt.js';
export type { FraudReview, FraudReviewQueue, FraudRuleReportRow, FraudSignals, RuleSetView };
export type { RuleSet as FraudRuleSet, FraudRule, Condition as FraudCondition, Feature as FraudFeature } from './fraud/rules.js';
export { DEFAULT_RULE_SET as DEFAULT_FRAUD_RULES, FEATURES as FRAUD_FEATURES } from './fraud/rules.js';
export {
  FraudDecisionMadeV1, FraudReviewDecidedV1, PaymentApprovedV1, PaymentExpiredV1, PaymentPendingV1, PaymentRejectedV1, RefundSucceededV1, PAYMENTS_EVENTS,
} from './events.js';

export interface PaymentsDeps {
  config: Config;
  db: Database;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  /** Base URL processors call back (Webpay return, MP notifications); defaults from config. */
  publicUrl?: () => string;
  /** Override connectors (tests); defaults are built from config.payments. */
  connectors?: { transbank?: PaymentConnector; mercadopago?: PaymentConnector };
  /** Janitor poll interval (ms). */
  janitorIntervalMs?: number;
  /** Commit settings for payment transactions (e.g. `{ synchronous_commit: 'remote_apply' }`). */
  txSettings?: Record<string, string>;
  /** The simulator started in this process: used where config names no processor host. */
  simulator?: { url: string; mpAccessToken: string; mpWebhookSecret: string } | undefined;
}

/** Points defaulted processor settings at the running simulator, with its MP credentials. */
function withSimulator(pc: PaymentsConfig, sim: PaymentsDeps['simulator']): PaymentsConfig {
  if (!sim) return pc;
  return {
    ...pc,
    ...(pc.tbkDefaulted ? { tbkBaseUrl: sim.url } : {}),
    ...(pc.mpDefaulted ? { mpBaseUrl: sim.url, mpAccessToken: sim.mpAccessToken, mpWebhookSecret: sim.mpWebhookSecret } : {}),
  };
}

/** The payments context as other contexts and the composition root see it. */
export interface Payments {
  /**
   * Starts a charge for an order; at most one charge per order succeeds.
   * @example
   * const r = await payments.startPayment({ orderId, amount: 19990, currency: 'CLP', customerId, method: 'webpay', returnUrl });
   * if (r.status === 'redirect') renderAutoPostForm(r.redirect); // POST token_ws to r.redirect.url
   */
  startPayment(input: StartPaymentInput): Promise<StartPaymentResult>;
  /**
   * Says a payment is coming (a checkout calls it as it begins): its fraud features are read
   * meanwhile, so the decision before the authorization does not wait for them. Optional; the
   * payment is decided the same either way.
   */
  readAhead(input: Pick<StartPaymentInput, 'customerId' | 'method' | 'savedCardId' | 'payerEmail' | 'risk'>): void;
  getAttempt(attemptId: string): Promise<AttemptView>;
  attemptsForOrder(orderId: string): Promise<AttemptView[]>;
  /** Refunds part or all of an order's approved payment (captured ≥ refunded). */
  refund(input: RefundInput): Promise<RefundResult>;
  /** Saved cards (Oneclick inscriptions) per customer. */
  cards: {
    startInscription(input: { customerId: string; email: string; returnUrl?: string }): Promise<InscriptionStart>;
    finishInscription(token: string): Promise<{ ok: boolean; card?: SavedCard; reason?: string }>;
    list(customerId: string): Promise<SavedCard[]>;
    delete(customerId: string, cardId: string): Promise<void>;
  };
  /** Webhook and return handling (also served by `routes`). */
  receiveMercadoPago(req: WebhookRequest): Promise<{ accepted: boolean; duplicate: boolean }>;
  webpayReturn(params: Record<string, string | undefined>): Promise<AttemptView>;
  /** One janitor pass (the worker runs it on an interval). */
  runJanitor(limit?: number): Promise<JanitorItem[]>;
  /** Re-wraps every saved card's data key under the current KEK. */
  rotateKek(): Promise<{ rewrapped: number; keysInUse: string[]; newKeyId: string }>;
  ledgerBalances(): Promise<Record<string, number>>;
  /** Read-only on-call snapshot: pending attempts by age, janitor backlog, webhook failures. */
  operations(): Promise<PaymentsOperations>;
  /**
   * Imports a processor settlement report (CSV: date, processor, reference,
   * external_reference?, type sale|refund|chargeback, gross, fee, payout_date — the
   * simulator's liquidation files): fees, chargebacks and payouts go to the ledger; the
   * result reconciles each line (matched, amount mismatch, missing here, missing at processor).
   */
  importSettlement(csv: string, period?: { from: Date; to: Date }): Promise<Reconciliation>;
  /**
   * Orders fraud prevention held for a person: approve lets the order continue, reject
   * releases its stock and refunds the payment (checkout reacts to `payments.fraud_review_decided`).
   * @example
   * const [r] = await payments.fraudReviews.list({ status: 'open' });
   * await payments.fraudReviews.decide(r.id, { outcome: 'reject', reviewer: 'ana' });
   */
  fraudReviews: FraudReviewQueue;
  /** Each rule's hits, chargebacks (from imported settlement reports), precision and recall. */
  fraudRuleReport(): Promise<FraudRuleReportRow[]>;
  /** The fraud rules in force, their versions, and a new version (the whole set). */
  fraudRules: {
    current(): Promise<RuleSetView>;
    update(ruleSet: unknown, author: string, note?: string): Promise<RuleSetView>;
  };
  /** Waits for background webhook processing (tests, shutdown). */
  settle(): Promise<void>;
  routes: HttpModule;
  workers: Worker[];
}

/** Builds the payments context from config: connectors, vault, attempts, janitor, routes. */
export function createPayments(deps: PaymentsDeps): Payments {
  const pc = withSimulator(deps.config.payments, deps.simulator);
  const tb = transbankConnector({
    baseUrl: pc.tbkBaseUrl,
    apiKey: pc.tbkApiKey,
    webpayCommerceCode: pc.tbkCommerceCode,
    webpayMallChildCode: pc.tbkMallChildCode,
    oneclickCommerceCode: pc.tbkOneclickCommerceCode,
    oneclickChildCode: pc.tbkOneclickChildCode,
    timeoutMs: pc.processorTimeoutMs,
  });
  const core: Core = {
    db: deps.db,
    logger: deps.logger.child({ context: 'payments' }),
    clock: deps.clock,
    connectors: {
      transbank: deps.connectors?.transbank ?? tb,
      mercadopago: deps.connectors?.mercadopago ?? mercadoPagoConnector({ baseUrl: pc.mpBaseUrl, accessToken: pc.mpAccessToken, timeoutMs: pc.processorTimeoutMs }),
    },
    publicUrl: deps.publicUrl ?? (() => deps.config.publicBaseUrl ?? `http://${deps.config.host}:${deps.config.port}`),
    txSettings: deps.txSettings,
    wakeOutbox: outboxWaker(deps.db),
    steps: histogram(deps.metrics.registry, 'embudo_payment_step_seconds', 'Where a payment start spends its time, by step', ['step'],
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]),
    counters: {
      transitions: counter(deps.metrics.registry, 'embudo_payment_attempt_transitions_total', 'Payment attempt state changes', ['processor', 'method', 'status']),
      invalidSignatures: counter(deps.metrics.registry, 'embudo_payment_webhook_invalid_signatures_total', 'Webhooks refused for their signature', ['reason']),
      janitorChecks: counter(deps.metrics.registry, 'embudo_payment_janitor_checks_total', 'Janitor checks by result', ['result']),
    },
  };
  let keyring: Keyring | undefined;
  const keys = (): Keyring | undefined =>
    (keyring ??= loadKeyring({
      kek: deps.config.kek,
      previous: pc.kekPrevious,
      dataDir: deps.config.dataDir,
      // Embedded start (no DATABASE_URL): generate the key file on first use.
      createIfMissing: deps.config.databaseUrl === undefined,
    }));
  const vault = createVault({ core, inscriptions: tb, keyring: keys });
  const fraud = createFraud(core, {
    timing: histogram(deps.metrics.registry, 'embudo_fraud_decision_seconds', 'What the fraud decision adds before an authorization: the wait for its features read (made ahead, while the payment waits for its batch) beyond the batch\'s own reads, plus its rules', ['decision'],
      [0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.00125, 0.0015, 0.00175, 0.002, 0.0025, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.025, 0.1]),
    readTiming: histogram(deps.metrics.registry, 'embudo_fraud_features_read_seconds', 'Time a fraud features read takes (made ahead for the payments asking meanwhile)', [],
      [0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25]),
  });
  core.fraud = fraud;
  const attempts = createAttempts(core, vault, fraud);
  const refunds = createRefunds(core);
  const notifications = createNotifications(core, attempts, () => pc.mpWebhookSecret);
  const janitor = createJanitor(core, notifications, (a) => attempts.giveBackDuplicate(a), () => refunds.resolvePending());
  const settlements = createSettlements(core, fraud.labelChargeback);
  const worker = intervalWorker('payments-janitor', deps.janitorIntervalMs ?? 30_000, core.logger, async () => {
    const items = await janitor.runOnce(50);
    return items.length === 50;
  });
  const fraudPrune = intervalWorker('payments-fraud-prune', 3_600_000, core.logger, async () => {
    await fraud.prune();
  });

  return {
    startPayment: (input) => attempts.startPayment(input),
    readAhead: (input) => fraud.readAhead({
      customerId: input.customerId, method: input.method, savedCardId: input.savedCardId, payerEmail: input.payerEmail, risk: input.risk,
    }),
    getAttempt: (id) => attempts.getAttempt(id),
    attemptsForOrder: (orderId) => attempts.attemptsForOrder(orderId),
    refund: (input) => refunds.refund(input),
    cards: {
      startInscription: (input) => vault.startInscription(input),
      finishInscription: (token) => vault.finishInscription(token),
      list: (customerId) => vault.listCards(customerId),
      delete: (customerId, cardId) => vault.deleteCard(customerId, cardId),
    },
    receiveMercadoPago: (req) => notifications.receiveMercadoPago(req),
    webpayReturn: async (params) => attempts.getAttempt((await attempts.webpayReturn(params)).id),
    runJanitor: (limit) => janitor.runOnce(limit),
    async rotateKek() {
      let newKeyId: string;
      if (deps.config.kek) {
        // Env mode: the operator set the new EMBUDO_KEK and moved the old one to EMBUDO_KEK_PREVIOUS.
        newKeyId = (keys() as Keyring).currentId;
      } else {
        newKeyId = addFileKey(deps.config.dataDir);
        keyring = undefined;
      }
      const r = await vault.rewrapAll();
      if (!deps.config.kek) retireFileKeys(deps.config.dataDir, r.keysInUse);
      keyring = undefined;
      return { ...r, newKeyId };
    },
    ledgerBalances: () => store.accountBalances(deps.db),
    operations: () => paymentsOperations(deps.db, deps.clock.now()),
    importSettlement: (csv, period) => settlements.importSettlement(csv, period),
    fraudReviews: fraud.reviews,
    fraudRuleReport: () => fraud.report(),
    fraudRules: { current: () => fraud.rules.current(), update: (set, author, note) => fraud.rules.update(set, author, note) },
    settle: () => notifications.settle(),
    routes: async (app) => {
      await paymentsRoutes({ attempts, vault, notifications })(app);
      await fraudAdminRoutes(fraud, deps.config.adminToken)(app);
    },
    workers: [worker, fraudPrune],
  };
}
