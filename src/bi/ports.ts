/**
 * What the BI reads from other contexts (the optional ones show "not available" in the UI when
 * absent). The fraud queue and reorder suggestions are the payments and inventory contexts' own
 * exported types.
 */
import type { FraudReview, FraudReviewQueue, FraudRuleReportRow } from '../payments/index.js';
import type { ReorderSuggestion } from '../inventory/index.js';

export type { FraudReview, FraudReviewQueue, ReorderSuggestion };

/** The warehouse read path (analytics' `query`/`queryParquet`/`lagMs`). */
export interface WarehouseReader {
  query(sql: string, opts?: { timeoutMs?: number; rowLimit?: number; params?: (string | number | boolean | null)[] }): Promise<Record<string, unknown>[]>;
  queryParquet(sql: string, opts?: { timeoutMs?: number; rowLimit?: number }): Promise<Buffer>;
  lagMs(): Promise<number>;
}

export type FraudRuleReport = () => Promise<FraudRuleReportRow[]>;

export interface OpenPurchaseOrder {
  id: string; supplier: string; locationId: string; expectedDate: string | null; status: string;
  lines: { sku: string; quantity: number; unitCost: number }[]; total: number;
}

export interface PaymentsOps {
  pendingByAge: { bucket: string; count: number; amount: number }[];
  janitor: { scheduled: number; due: number; givingUpWithin24h: number };
  webhooks: { received24h: number; unprocessed: number; unmatched24h: number };
}

export interface ConsumerLagRow { consumer: string; behind: number; oldestSeconds: number; deadLetters: number }

export interface BiPorts {
  warehouse: WarehouseReader;
  /** SKU → category slug from the catalogue. */
  skuCategories?: () => Promise<Map<string, string>>;
  paymentsOperations?: () => Promise<PaymentsOps>;
  consumerLag?: () => Promise<ConsumerLagRow[]>;
  purchaseOrders?: () => Promise<OpenPurchaseOrder[]>;
  fraudReviews?: FraudReviewQueue;
  fraudRuleReport?: FraudRuleReport;
  reorderSuggestions?: () => Promise<ReorderSuggestion[]>;
}
