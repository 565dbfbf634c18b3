import type { EventEnvelope } from '../events/index.js';
import type { Db } from '../platform/db.js';
import type { Worker } from '../platform/worker.js';

// The other contexts as checkout needs them: their own public types, narrowed to what checkout
// calls. The composition root passes the real ones; tests may pass small stand-ins.

export type { SkuView } from '../catalog/index.js';
import type { SkuView } from '../catalog/index.js';

export interface CatalogPort {
  getSkus(skus: string[]): Promise<SkuView[]>;
}

export type { Reservation } from '../inventory/index.js';
import type { Reservation } from '../inventory/index.js';

export interface InventoryPort {
  /** Throws AppError `insufficient_stock` or `unknown_sku`. */
  reserve(input: { lines: { sku: string; quantity: number; locationId?: string }[]; ttlSeconds?: number; reference?: string }): Promise<Reservation>;
  /** Idempotent; throws `reservation_expired` when the reservation timed out. */
  commit(reservationId: string): Promise<unknown>;
  /** Idempotent. */
  release(reservationId: string, reason?: string): Promise<unknown>;
  /** Keeps an active reservation for at least `ttlSeconds` more (orders held for review). */
  extend?(reservationId: string, ttlSeconds: number): Promise<unknown>;
}

export type PaymentMethod = 'oneclick' | 'webpay' | 'mercadopago_card' | 'mercadopago_cash';

export interface StartPaymentInput {
  orderId: string;
  amount: number;
  currency: 'CLP';
  customerId: string;
  method: PaymentMethod;
  savedCardId?: string;
  cardToken?: string;
  paymentMethodId?: string;
  payerEmail?: string;
  returnUrl?: string;
  /** Signals for fraud prevention (payments' FraudSignals). */
  risk?: { ip?: string; deviceId?: string; deliveryRegion?: string };
}

export interface StartPaymentResult {
  attemptId: string;
  status: 'approved' | 'rejected' | 'pending' | 'redirect';
  redirect?: { url: string; token: string; method: 'POST' | 'GET'; field: string };
  reason?: string;
}

export interface PaymentsPort {
  startPayment(input: StartPaymentInput): Promise<StartPaymentResult>;
  /** A payment of this shopper, method and signals is coming: payments may read ahead for it. */
  readAhead?(input: Pick<StartPaymentInput, 'customerId' | 'method' | 'savedCardId' | 'payerEmail' | 'risk'>): void;
  refund(input: { orderId: string; amount: number; reason: string; key?: string }): Promise<unknown>;
}

export interface EventsPort {
  consumer(spec: { name: string; types: string[]; handle: (tx: Db, event: EventEnvelope) => Promise<void> }): Worker;
  subscribe(types: string[], listener: (event: EventEnvelope) => void): () => void;
}
