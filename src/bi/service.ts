import { dashboards, type Dashboard, type Panel, type PortPanel, type WarehousePanel } from './dashboards.js';
import { Filters, SqlParams, Sources } from './domain/filters.js';
import { maskRows, type Access, type DashboardId } from './domain/roles.js';
import { judgeParseTree } from './domain/sql-guard.js';
import { biError } from './errors.js';
import type { BiPorts } from './ports.js';

export interface PanelResult {
  id: string;
  title: string;
  chart: Panel['chart'];
  format?: string;
  measures: { name: string; format?: string }[];
  rows: Record<string, unknown>[];
  /** False when the panel's source (an optional port) is absent here. */
  available: boolean;
  drillable: boolean;
  /** The row field whose value a click drills by ('label' for charts, a column for tables). */
  drillKey?: string;
  note?: string;
  error?: string;
  ms: number;
}

export interface RunOptions {
  timeoutMs: number;
  rowLimit: number;
  /** Operations panels that read the process itself (alerts, HTTP error rates). */
  local: { alerts: () => Promise<Record<string, unknown>[]>; errorRates: () => Promise<Record<string, unknown>[]> };
}

const CATEGORY_TTL_MS = 60_000;

function isTimeout(err: unknown): boolean {
  return err instanceof Error && err.name === 'QueryTimeoutError';
}

/** Dashboards, drill-down and the SQL explorer over the warehouse, with role checks and masking. */
export function createDashboardService(ports: BiPorts, opts: RunOptions) {
  let categories: { at: number; map: Map<string, string> } | undefined;
  const categoryMap = async (): Promise<Map<string, string>> => {
    if (!ports.skuCategories) return new Map();
    if (!categories || Date.now() - categories.at > CATEGORY_TTL_MS) {
      categories = { at: Date.now(), map: await ports.skuCategories().catch(() => categories?.map ?? new Map<string, string>()) };
    }
    return categories.map;
  };
  const defs = dashboards();
  const byId = new Map(defs.map((d) => [d.id, d]));

  const parseFilters = (input: unknown): Filters => {
    const r = Filters.safeParse(input);
    if (!r.success) throw biError('invalid_filters', 'the filters are not valid', { issues: r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) });
    if (r.data.from > r.data.to) throw biError('invalid_filters', '`from` is after `to`');
    return r.data;
  };

  const dashboard = (id: string, access: Access): Dashboard => {
    const d = byId.get(id as DashboardId);
    if (!d) throw biError('unknown_dashboard', `no dashboard ${id}`);
    if (!access.dashboards.includes(d.id)) throw biError('forbidden_for_role', `your roles (${access.roles.join(', ')}) cannot open ${d.title}`);
    return d;
  };

  /** The SQL and parameters of a warehouse panel. */
  function panelQuery(p: WarehousePanel, f: Filters, shared: { demand?: string } = {}): { sql: string; params: SqlParams } {
    const q = new SqlParams();
    const src = p.source(new Sources(q, f, shared), q);
    const measures = p.measures.map((m) => `${m.expr} AS "${m.name}"`).join(', ');
    let sql: string;
    if (p.chart === 'table') sql = `SELECT * FROM (${src}) src ORDER BY ${p.orderBy ?? '1'} LIMIT ${p.limit ?? 200}`;
    else if (!p.dim) sql = `SELECT ${measures} FROM (${src}) src`;
    else {
      const dims = [`CAST(${p.dim} AS VARCHAR) AS label`, ...(p.dim2 ? [`${p.dim2} AS label2`] : [])].join(', ');
      sql = `SELECT ${dims}, ${measures} FROM (${src}) src GROUP BY ALL ORDER BY ${p.orderBy ?? '1'} LIMIT ${p.limit ?? 500}`;
    }
    return { sql, params: q };
  }

  async function portRows(p: PortPanel, f: Filters | undefined): Promise<Record<string, unknown>[] | undefined> {
    switch (p.port) {
      case 'fraudRules':
        return ports.fraudRuleReport ? (await ports.fraudRuleReport()).map((r) => ({ ...r })) : undefined;
      case 'reorder': {
        if (!ports.reorderSuggestions) return undefined;
        const map = await categoryMap();
        return (await ports.reorderSuggestions())
          .filter((r) => (!f?.location || r.locationId === f.location) && (!f?.category || map.get(r.sku) === f.category))
          .map((r) => ({ sku: r.sku, location: r.locationId, on_hand: r.onHand, available: r.available, daily_demand: r.dailyDemand,
            reorder_point: r.reorderPoint, safety_stock: r.safetyStock, order_quantity: r.orderQuantity, days_of_cover: r.daysOfCover,
            supplier: r.supplierId, reason: r.reason, purchase_order: r.purchaseOrderId }));
      }
      case 'purchaseOrders': {
        if (!ports.purchaseOrders) return undefined;
        return (await ports.purchaseOrders())
          .filter((po) => !f?.location || po.locationId === f.location)
          .map((po) => ({ id: po.id, supplier: po.supplier, location: po.locationId, status: po.status, expected: po.expectedDate,
            lines: po.lines.length, units: po.lines.reduce((n, l) => n + l.quantity, 0), total: po.total }));
      }
      case 'paymentsPending':
        return ports.paymentsOperations ? (await ports.paymentsOperations()).pendingByAge.map((b) => ({ label: b.bucket, Attempts: b.count, Amount: b.amount })) : undefined;
      case 'janitor': {
        if (!ports.paymentsOperations) return undefined;
        const j = (await ports.paymentsOperations()).janitor;
        return [{ value: j.due, scheduled: j.scheduled, giving_up_within_24h: j.givingUpWithin24h }];
      }
      case 'webhooks': {
        if (!ports.paymentsOperations) return undefined;
        const w = (await ports.paymentsOperations()).webhooks;
        return [{ value: w.unprocessed, received_24h: w.received24h, unmatched_24h: w.unmatched24h }];
      }
      case 'consumerLag':
        return ports.consumerLag ? (await ports.consumerLag()).map((c) => ({ consumer: c.consumer, behind: c.behind, oldest_seconds: c.oldestSeconds, dead_letters: c.deadLetters })) : undefined;
      case 'etlFreshness': {
        const lag = await ports.warehouse.lagMs();
        const [state] = await ports.warehouse.query(`SELECT high_water_mark, strftime(updated_at, '%Y-%m-%d %H:%M:%S') AS loaded_at FROM etl_state WHERE name = 'analytics.etl'`);
        return [{ value: Math.round(lag / 1000), high_water_mark: state?.high_water_mark ?? null, last_load: state?.loaded_at ?? null }];
      }
      case 'errorRates':
        return opts.local.errorRates();
      case 'alerts':
        return opts.local.alerts();
      case 'reviewQueue':
        return ports.fraudReviews ? (await ports.fraudReviews.list({ status: 'open', limit: 200 })).map((r) => ({ ...r, reasons: r.reasons.join(', ') })) : undefined;
    }
  }

  /**
   * The demand rows several stock panels share, read once per dashboard (undefined: each panel
   * computes its own, e.g. when there are too many SKUs to pass as a parameter).
   */
  async function sharedDemand(f: Filters): Promise<string | undefined> {
    const q = new SqlParams();
    const max = 50_000;
    try {
      const rows = await ports.warehouse.query(`SELECT sku, units FROM (${new Sources(q, f).demand()})`, { params: q.values, timeoutMs: opts.timeoutMs, rowLimit: max + 1 });
      if (rows.length > max) return undefined;
      return JSON.stringify(rows.map((r) => ({ sku: r.sku, units: Number(r.units) })));
    } catch {
      return undefined;
    }
  }

  async function runPanel(p: Panel, f: Filters, access: Access, demand?: Promise<string | undefined>): Promise<PanelResult> {
    const started = performance.now();
    const base = {
      id: p.id, title: p.title, chart: p.chart, ...(p.format ? { format: p.format } : {}), ...(p.note ? { note: p.note } : {}),
      measures: p.kind === 'warehouse' ? p.measures.map((m) => ({ name: m.name, ...(m.format ? { format: m.format } : {}) })) : [],
    };
    try {
      if (p.kind === 'port') {
        const rows = await portRows(p, f);
        return { ...base, rows: maskRows(rows ?? [], access), available: rows !== undefined, drillable: false, ms: performance.now() - started };
      }
      const shared = p.usesDemand && demand ? await demand : undefined;
      const { sql, params } = panelQuery(p, f, shared === undefined ? {} : { demand: shared });
      const rows = await ports.warehouse.query(sql, { params: params.values, timeoutMs: opts.timeoutMs, rowLimit: opts.rowLimit });
      const drillKey = p.chart === 'table' ? p.dim : p.dim ? 'label' : undefined;
      return { ...base, rows: maskRows(rows, access), available: true, drillable: true, ...(drillKey ? { drillKey } : {}), ms: performance.now() - started };
    } catch (err) {
      const error = isTimeout(err) ? 'timed out' : 'failed';
      return { ...base, rows: [], available: true, drillable: false, error, ms: performance.now() - started };
    }
  }

  return {
    definitions: defs,

    parseFilters,

    /** The choices the filter bar offers, read from the warehouse and the catalogue. */
    async filterOptions(): Promise<{ categories: string[]; locations: string[]; regions: string[]; methods: string[]; minDate: string | null; maxDate: string | null }> {
      const [categories, locations, regions, methods, range] = await Promise.all([
        ports.warehouse.query(`SELECT DISTINCT coalesce(nullif(category, ''), 'uncategorised') AS v FROM dim_product ORDER BY 1`, { rowLimit: 1000 }),
        ports.warehouse.query(`SELECT location_id AS v FROM dim_location ORDER BY 1`, { rowLimit: 500 }),
        ports.warehouse.query(`SELECT DISTINCT region AS v FROM dim_geography WHERE region IS NOT NULL ORDER BY 1`, { rowLimit: 500 }),
        ports.warehouse.query(`SELECT DISTINCT method AS v FROM fact_payment_attempt WHERE method IS NOT NULL ORDER BY 1`, { rowLimit: 100 }),
        ports.warehouse.query(`SELECT strftime(min(d), '%Y-%m-%d') AS lo, strftime(max(d), '%Y-%m-%d') AS hi FROM (
            SELECT min(date_key) AS d FROM fact_order_line UNION ALL SELECT max(date_key) FROM fact_order_line
            UNION ALL SELECT max(date_key) FROM fact_refund UNION ALL SELECT max(date_key) FROM fact_ledger_posting
            UNION ALL SELECT max(date_key) FROM reconciliation)`),
      ]);
      const v = (rows: Record<string, unknown>[]) => rows.map((r) => String(r.v));
      return {
        categories: v(categories), locations: v(locations), regions: v(regions), methods: v(methods),
        minDate: (range[0]?.lo as string | null) ?? null, maxDate: (range[0]?.hi as string | null) ?? null,
      };
    },

    /** Every panel of a dashboard with the filters applied (panels run concurrently). */
    async open(id: string, filterInput: unknown, access: Access): Promise<{ dashboard: Omit<Dashboard, 'panels'>; panels: PanelResult[]; rows: number }> {
      const d = dashboard(id, access);
      const f = parseFilters(filterInput);
      const demand = d.panels.some((p) => p.kind === 'warehouse' && p.usesDemand) ? sharedDemand(f) : undefined;
      const panels = await Promise.all(d.panels.map((p) => runPanel(p, f, access, demand)));
      return { dashboard: { id: d.id, title: d.title, description: d.description, filters: d.filters, ...(d.filterNotes ? { filterNotes: d.filterNotes } : {}) }, panels, rows: panels.reduce((n, p) => n + p.rows.length, 0) };
    },

    /** The rows behind a chart element (or behind a KPI when `value` is absent). */
    async drill(id: string, panelId: string, value: string | undefined, filterInput: unknown, access: Access, limit = 1000): Promise<{ columns: string[]; rows: Record<string, unknown>[] }> {
      const d = dashboard(id, access);
      const p = d.panels.find((x) => x.id === panelId);
      if (!p) throw biError('unknown_panel', `no panel ${panelId} on ${id}`);
      if (p.kind !== 'warehouse') throw biError('unknown_panel', `panel ${panelId} has no rows to drill into`);
      const f = parseFilters(filterInput);
      const q = new SqlParams();
      const src = (p.drill?.source ?? p.source)(new Sources(q, f), q);
      const dim = p.drill ? p.drill.dim : p.dim;
      const where = value !== undefined && dim ? `WHERE CAST(${dim} AS VARCHAR) = ${q.p(value)}` : '';
      try {
        const rows = await ports.warehouse.query(`SELECT * FROM (${src}) src ${where}`, { params: q.values, timeoutMs: opts.timeoutMs, rowLimit: limit });
        return { columns: rows[0] ? Object.keys(rows[0]) : [], rows: maskRows(rows, access) };
      } catch (err) {
        if (isTimeout(err)) throw biError('query_timeout', 'the drill-down took too long; narrow the filters');
        throw err;
      }
    },

    /** SQL explorer: the guard on DuckDB's parse tree, then a bounded, timed read. */
    async explore(sql: string, access: Access, limits: { rowLimit: number; timeoutMs: number }): Promise<{ columns: string[]; rows: Record<string, unknown>[]; truncated: boolean }> {
      await guard(sql, access);
      try {
        const rows = await ports.warehouse.query(sql, { rowLimit: limits.rowLimit + 1, timeoutMs: limits.timeoutMs });
        const truncated = rows.length > limits.rowLimit;
        const out = maskRows(truncated ? rows.slice(0, limits.rowLimit) : rows, access);
        return { columns: out[0] ? Object.keys(out[0]) : [], rows: out, truncated };
      } catch (err) {
        if (isTimeout(err)) throw biError('query_timeout', `the query ran longer than ${limits.timeoutMs} ms and was stopped`);
        throw biError('sql_invalid', err instanceof Error ? (err.message.split('\n')[0] ?? 'query failed') : 'query failed');
      }
    },

    async exploreParquet(sql: string, access: Access, limits: { rowLimit: number; timeoutMs: number }): Promise<Buffer> {
      await guard(sql, access);
      try {
        return await ports.warehouse.queryParquet(sql, limits);
      } catch (err) {
        if (isTimeout(err)) throw biError('query_timeout', `the query ran longer than ${limits.timeoutMs} ms and was stopped`);
        throw biError('sql_invalid', err instanceof Error ? (err.message.split('\n')[0] ?? 'query failed') : 'query failed');
      }
    },
  };

  async function guard(sql: string, access: Access): Promise<void> {
    if (!access.abilities.includes('explorer')) throw biError('forbidden_for_role', 'the SQL explorer is for scientists and the CDO');
    if (sql.length > 20_000) throw biError('sql_invalid', 'the query is too long');
    const [r] = await ports.warehouse.query(`SELECT json_serialize_sql($1::VARCHAR) AS tree`, { params: [sql] });
    const verdict = judgeParseTree(typeof r?.tree === 'string' ? r.tree : '', new Set(access.tables));
    if (!verdict.ok) throw biError(verdict.code, verdict.message);
  }
}
export type DashboardService = ReturnType<typeof createDashboardService>;
