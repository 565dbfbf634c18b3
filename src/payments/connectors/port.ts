import type { Method, Processor, ProcessorVerdict } from '../domain/attempt.js';

/** What a connector needs to know about an attempt. */
export interface AttemptCall {
  attemptId: string;
  buyOrder: string;
  amount: number;
  method: Method;
  createdAt: Date;
  /** Token / payment id once the processor gave one. */
  processorRef?: string | undefined;
  /** Oneclick: the inscription (decrypted just for the call, never stored in clear). */
  oneclick?: { username: string; tbkUser: string } | undefined;
  /** Mercado Pago. */
  cardToken?: string | undefined;
  paymentMethodId?: string | undefined;
  payerEmail?: string | undefined;
  /** Where the processor sends the shopper back (Webpay) or its notifications (MP). */
  callbackUrl: string;
  /** The caller's clock, for ages (form windows). */
  now: Date;
}

/** Where to send the shopper: a form POST (Webpay: field `token_ws`) or a GET. */
export interface Redirect {
  url: string;
  token: string;
  method: 'POST' | 'GET';
  field: string;
}

export interface RefundCall {
  refundId: string;
  amount: number;
  /** Sum of the attempt's earlier successful refunds. */
  alreadyRefunded: number;
}

export type RefundVerdict =
  | { status: 'succeeded'; refundType: 'REVERSED' | 'NULLIFIED' | 'PARTIAL' | 'FULL'; processorRef?: string; data?: Record<string, unknown> }
  | { status: 'failed'; reason: string }
  | { status: 'unknown'; reason: string };

/** A processor notification, parsed after its signature was verified. */
export interface ParsedNotification {
  notificationId: string;
  resourceId: string;
  topic: string;
}

/**
 * The one port every processor connector implements. A connector never throws for an
 * answer from the processor: it returns a verdict, `unknown` when it could not tell.
 */
export interface PaymentConnector {
  readonly processor: Processor;
  /** Direct charge (Oneclick authorize, MP card/cash). */
  authorize(call: AttemptCall): Promise<ProcessorVerdict>;
  /** Indirect charge: create the transaction and tell where to send the shopper. */
  startRedirect(call: AttemptCall): Promise<{ verdict: ProcessorVerdict; redirect?: Redirect }>;
  /** Confirms an indirect charge after the shopper returns (exactly once per token). */
  commitRedirect(call: AttemptCall, token: string): Promise<ProcessorVerdict>;
  /** Asks the processor what became of an attempt. */
  status(call: AttemptCall): Promise<ProcessorVerdict>;
  refund(call: AttemptCall, refund: RefundCall): Promise<RefundVerdict>;
  /** What became of a refund whose answer was lost (never issues a second refund). */
  refundStatus(call: AttemptCall, refund: RefundCall): Promise<RefundVerdict>;
  /** Reads a notification body (signature already verified); undefined when irrelevant. */
  parseNotification(query: Record<string, string | undefined>, body: unknown): ParsedNotification | undefined;
}

/** A call whose outcome we know did not happen (4xx) vs. could not tell (timeout, 5xx). */
export class ProcessorCallError extends Error {
  constructor(
    message: string,
    readonly definite: boolean,
    readonly httpStatus?: number,
  ) {
    super(message);
    this.name = 'ProcessorCallError';
  }
}
