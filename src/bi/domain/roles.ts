/** The data team's roles. */
export const ROLES = ['analyst', 'scientist', 'cdo', 'engineer', 'admin'] as const;
export type BiRole = (typeof ROLES)[number];

export const DASHBOARDS = ['earnings', 'fraud', 'trends', 'stock', 'operations'] as const;
export type DashboardId = (typeof DASHBOARDS)[number];

/** Pages/abilities beyond dashboards. */
export type Ability = 'explorer' | 'governance' | 'admin' | 'alerts' | 'fraud_review' | 'unmasked_pii';

/** The datasets access is granted on (governance matrix): warehouse tables grouped by use. */
export const DATASETS: Record<string, { tables: string[]; description: string }> = {
  sales: { tables: ['fact_order_line', 'fact_order', 'fact_order_member', 'agg_sales_daily', 'dim_customer', 'dim_product', 'dim_geography', 'dim_date'], description: 'Orders, lines, daily sales aggregates, customers (pseudonymous), geography' },
  payments: { tables: ['fact_payment_attempt', 'fact_refund', 'fact_ledger_posting', 'reconciliation', 'settlement_report', 'agg_payment_daily', 'agg_decline_minute', 'agg_refund_daily', 'agg_ledger_daily', 'agg_reconciliation_daily'], description: 'Payment attempts, refunds, ledger, settlement reconciliation, and their daily aggregates' },
  fraud: { tables: ['fact_fraud_decision', 'agg_fraud_daily'], description: 'Fraud decisions and scores, and their daily aggregate' },
  stock: { tables: ['fact_stock_movement', 'stock_on_hand', 'dim_location'], description: 'Stock movements and stock on hand' },
  pipeline: { tables: ['stg_events', 'etl_state', 'dq_check', 'dq_result', 'catalog_table', 'catalog_column'], description: 'Staging, ETL state, data quality, catalogue' },
};
export type DatasetId = keyof typeof DATASETS;

interface Grant {
  dashboards: DashboardId[];
  datasets: DatasetId[];
  abilities: Ability[];
}

/**
 * Role → what it may open. Analysts see dashboards with PII masked; scientists add the SQL
 * explorer; the CDO sees everything read-only plus governance; engineers operations and
 * pipelines; admins manage users.
 */
export const GRANTS: Record<BiRole, Grant> = {
  analyst: { dashboards: ['earnings', 'fraud', 'trends', 'stock'], datasets: ['sales', 'payments', 'fraud', 'stock'], abilities: ['fraud_review'] },
  scientist: { dashboards: ['earnings', 'fraud', 'trends', 'stock', 'operations'], datasets: ['sales', 'payments', 'fraud', 'stock', 'pipeline'], abilities: ['explorer', 'unmasked_pii', 'fraud_review'] },
  cdo: { dashboards: [...DASHBOARDS], datasets: ['sales', 'payments', 'fraud', 'stock', 'pipeline'], abilities: ['explorer', 'governance', 'alerts', 'unmasked_pii'] },
  engineer: { dashboards: ['operations'], datasets: ['pipeline'], abilities: ['alerts'] },
  admin: { dashboards: ['operations'], datasets: [], abilities: ['admin', 'alerts'] },
};

export interface Access {
  roles: BiRole[];
  dashboards: DashboardId[];
  datasets: DatasetId[];
  abilities: Ability[];
  tables: string[];
}

/** The union of what a user's roles grant. */
export function accessOf(roles: readonly BiRole[]): Access {
  const dashboards = new Set<DashboardId>();
  const datasets = new Set<DatasetId>();
  const abilities = new Set<Ability>();
  for (const r of roles) {
    for (const d of GRANTS[r].dashboards) dashboards.add(d);
    for (const d of GRANTS[r].datasets) datasets.add(d);
    for (const a of GRANTS[r].abilities) abilities.add(a);
  }
  const tables = [...datasets].flatMap((d) => DATASETS[d]?.tables ?? []);
  return {
    roles: [...roles],
    dashboards: DASHBOARDS.filter((d) => dashboards.has(d)),
    datasets: [...datasets],
    abilities: [...abilities],
    tables,
  };
}

/** Columns masked for users without `unmasked_pii` (PII tags of the analytics catalogue, plus free text). */
export const MASKED_COLUMNS = new Set(['customer_id', 'customer_pseudonym', 'comuna', 'payload', 'email', 'phone', 'name', 'street']);

/** Keeps a hint of the value (first 2 characters) so rows stay distinguishable, hides the rest. */
export function maskValue(value: unknown): unknown {
  if (value === null || value === undefined) return value;
  const s = typeof value === 'string' ? value : JSON.stringify(value);
  return `${s.slice(0, 2)}•••`;
}

export function maskRows(rows: Record<string, unknown>[], access: Access): Record<string, unknown>[] {
  if (access.abilities.includes('unmasked_pii')) return rows;
  return rows.map((r) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r)) out[k] = MASKED_COLUMNS.has(k) ? maskValue(v) : v;
    return out;
  });
}
