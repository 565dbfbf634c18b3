/**
 * What the BI reads from other contexts, declared here structurally so the BI compiles and
 * runs without them (the optional ones show "not available" in the UI when absent).
 */

/** The warehouse read path (analytics' `query`/`queryParquet`/`lagMs`). */
export interface WarehouseReader {
  query(sql: string, opts?: { timeoutMs?: number; rowLimit?: number; params?: (string | number | boolean | null)[] }): Promise<Record<string, unknown>[]>;
  queryParquet(sql: string, opts?: { timeoutMs?: number; rowLimit?: number }): Promise<Buffer>;
  lagMs(): Promise<number>;
}

export interface FraudReview {
  id: string; orderId: string; paymentAttemptId: string | null;
  amount: number; currency: string;
  score: number; reasons: string[];
  status: 'open' | 'approved' | 'rejected';
  createdAt: string; decidedAt: string | null; reviewer: string | null;
}
export interface FraudReviewQueue {
  list(opts?: { status?: FraudReview['status']; limit?: number }): Promise<FraudReview[]>;
  decide(reviewId: string, input: { outcome: 'approve' | 'reject'; reviewer: string; note?: string }): Promise<FraudReview>;
}
export type FraudRuleReport = () => Promise<{ rule: string; hits: number; chargebacks: number; precision: number; recall: number }[]>;

export interface ReorderSuggestion {
  sku: string; locationId: string; onHand: number; available: number;
  dailyDemand: number; demandStdDev: number; leadTimeDays: number;
  reorderPoint: number; safetyStock: number; orderQuantity: number;
  daysOfCover: number | null; supplierId: string | null; reason: string;
  purchaseOrderId: string | null;
}

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
