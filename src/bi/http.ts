import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { HttpApp, HttpModule } from '../platform/http.js';
import { staticFiles } from '../platform/static.js';
import type { Alerts } from './alerts.js';
import type { Audit } from './audit.js';
import type { Auth, BiUser } from './auth.js';
import { toCsv } from './csv.js';
import { accessOf, DATASETS, GRANTS, ROLES, type Ability, type Access } from './domain/roles.js';
import { biError } from './errors.js';
import type { BiPorts } from './ports.js';
import type { DashboardService } from './service.js';

export const COOKIE = 'embudo_bi';
const ROOT = path.resolve(import.meta.dirname, '..', '..');

export interface BiHttpDeps {
  auth: Auth;
  audit: Audit;
  dashboards: DashboardService;
  alerts: Alerts;
  ports: BiPorts;
  secureCookies: boolean;
  explorer: { rowLimit: number; timeoutMs: number };
}

interface Signed { user: BiUser; access: Access; token: string }

function cookieToken(req: FastifyRequest): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return v.join('=');
  }
  return undefined;
}

const FilterQuery = z.object({
  from: z.string(), to: z.string(),
  category: z.string().optional(), location: z.string().optional(), region: z.string().optional(), method: z.string().optional(),
}).strict();
const DrillQuery = FilterQuery.extend({ value: z.string().max(200).optional(), format: z.enum(['json', 'csv']).optional() }).strict();
const Login = z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(200) }).strict();
const Sql = z.object({ sql: z.string().min(1).max(20_000), limit: z.number().int().min(1).max(100_000).optional() }).strict();
const SqlExport = Sql.extend({ format: z.enum(['csv', 'parquet']) }).strict();
const NewUser = z.object({ username: z.string().min(2).max(64), password: z.string().min(1).max(200), roles: z.array(z.string()).min(1).max(5) }).strict();
const PatchUser = z.object({ roles: z.array(z.string()).min(1).max(5).optional(), disabled: z.boolean().optional() }).strict();
const Rule = z.object({ kpi: z.string(), op: z.enum(['>', '>=', '<', '<=']), threshold: z.number().finite(), description: z.string().min(1).max(200), enabled: z.boolean().optional() }).strict();
const Decision = z.object({ outcome: z.enum(['approve', 'reject']), note: z.string().max(500).optional() }).strict();
const AuditQuery = z.object({ username: z.string().max(64).optional(), action: z.string().max(32).optional(), limit: z.coerce.number().int().min(1).max(5000).optional() }).strict();

const filtersOf = (q: z.infer<typeof FilterQuery>) => ({
  from: q.from, to: q.to,
  ...(q.category ? { category: q.category } : {}), ...(q.location ? { location: q.location } : {}),
  ...(q.region ? { region: q.region } : {}), ...(q.method ? { method: q.method } : {}),
});

/** The BI API under /bi/api, the pages under /bi, and ECharts as a static asset. */
export function biRoutes(deps: BiHttpDeps): HttpModule {
  const { auth, audit, dashboards, alerts } = deps;

  const signedIn = async (req: FastifyRequest): Promise<Signed> => {
    const token = cookieToken(req);
    const user = await auth.session(token);
    if (!user || !token) throw biError('not_signed_in', 'sign in first');
    return { user, access: accessOf(user.roles), token };
  };
  const needs = (s: Signed, ability: Ability) => {
    if (!s.access.abilities.includes(ability)) throw biError('forbidden_for_role', `your roles (${s.access.roles.join(', ')}) do not allow this`);
  };
  const who = (s: Signed) => ({ username: s.user.username, roles: s.user.roles });
  const setCookie = (reply: FastifyReply, value: string, maxAge: number) => {
    void reply.header('set-cookie', `${COOKIE}=${value}; Path=/bi; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${deps.secureCookies ? '; Secure' : ''}`);
  };
  const echarts = readFileSync(path.join(ROOT, 'node_modules', 'echarts', 'dist', 'echarts.min.js'));

  return async (app: HttpApp) => {
    const tags = ['bi'];
    app.get('/bi/vendor/echarts.min.js', { schema: { hide: true } }, async (_req, reply) =>
      reply.header('cache-control', 'public, max-age=86400').type('text/javascript; charset=utf-8').send(echarts));

    app.post('/bi/api/login', { schema: { tags, body: Login } }, async (req, reply) => {
      try {
        const { token, user } = await auth.login(req.body.username, req.body.password);
        await audit.record({ username: user.username, roles: user.roles }, 'login', 'bi');
        setCookie(reply, token, 12 * 3600);
        return { user, access: accessOf(user.roles) };
      } catch (err) {
        await audit.record({ username: req.body.username.toLowerCase().slice(0, 64), roles: [] }, 'login_failed', 'bi');
        throw err;
      }
    });

    app.post('/bi/api/logout', { schema: { tags } }, async (req, reply) => {
      const s = await signedIn(req);
      await auth.logout(s.token);
      await audit.record(who(s), 'logout', 'bi');
      setCookie(reply, '', 0);
      return { ok: true };
    });

    app.get('/bi/api/me', { schema: { tags } }, async (req) => {
      const s = await signedIn(req);
      return { user: s.user, access: s.access, dashboards: dashboards.definitions.filter((d) => s.access.dashboards.includes(d.id)).map((d) => ({ id: d.id, title: d.title })) };
    });

    app.get('/bi/api/filters', { schema: { tags } }, async (req) => {
      await signedIn(req);
      return dashboards.filterOptions();
    });

    app.get('/bi/api/dashboards/:id', { schema: { tags, params: z.object({ id: z.string().max(40) }), querystring: FilterQuery } }, async (req) => {
      const s = await signedIn(req);
      const f = filtersOf(req.query);
      const result = await dashboards.open(req.params.id, f, s.access);
      await audit.record(who(s), 'dashboard', req.params.id, result.rows, { filters: f });
      return result;
    });

    app.get('/bi/api/dashboards/:id/panels/:panel/rows', {
      schema: { tags, params: z.object({ id: z.string().max(40), panel: z.string().max(60) }), querystring: DrillQuery },
    }, async (req, reply) => {
      const s = await signedIn(req);
      const { value, format, ...rest } = req.query;
      const f = filtersOf(rest);
      const limit = format === 'csv' ? 100_000 : 1000;
      const result = await dashboards.drill(req.params.id, req.params.panel, value, f, s.access, limit);
      const target = `${req.params.id}/${req.params.panel}${value !== undefined ? `=${value}` : ''}`;
      if (format === 'csv') {
        await audit.record(who(s), 'export', target, result.rows.length, { filters: f, format: 'csv' });
        return reply.header('content-disposition', `attachment; filename="${req.params.id}-${req.params.panel}.csv"`)
          .type('text/csv; charset=utf-8').send(toCsv(result.rows, result.columns));
      }
      await audit.record(who(s), 'drill', target, result.rows.length, { filters: f });
      return result;
    });

    app.post('/bi/api/sql', { schema: { tags, body: Sql } }, async (req) => {
      const s = await signedIn(req);
      const limit = Math.min(req.body.limit ?? deps.explorer.rowLimit, deps.explorer.rowLimit);
      const started = performance.now();
      try {
        const r = await dashboards.explore(req.body.sql, s.access, { rowLimit: limit, timeoutMs: deps.explorer.timeoutMs });
        await audit.record(who(s), 'query', req.body.sql, r.rows.length);
        return { ...r, ms: Math.round(performance.now() - started) };
      } catch (err) {
        await audit.record(who(s), 'query_refused', req.body.sql, null, { code: (err as { code?: string }).code ?? 'error' });
        throw err;
      }
    });

    app.post('/bi/api/sql/export', { schema: { tags, body: SqlExport } }, async (req, reply) => {
      const s = await signedIn(req);
      const limits = { rowLimit: Math.min(req.body.limit ?? 100_000, 100_000), timeoutMs: deps.explorer.timeoutMs };
      try {
        if (req.body.format === 'parquet') {
          const bytes = await dashboards.exploreParquet(req.body.sql, s.access, limits);
          await audit.record(who(s), 'export', req.body.sql, null, { format: 'parquet', bytes: bytes.length });
          return reply.header('content-disposition', 'attachment; filename="query.parquet"').type('application/vnd.apache.parquet').send(bytes);
        }
        const r = await dashboards.explore(req.body.sql, s.access, limits);
        await audit.record(who(s), 'export', req.body.sql, r.rows.length, { format: 'csv' });
        return reply.header('content-disposition', 'attachment; filename="query.csv"').type('text/csv; charset=utf-8').send(toCsv(r.rows, r.columns));
      } catch (err) {
        await audit.record(who(s), 'query_refused', req.body.sql, null, { code: (err as { code?: string }).code ?? 'error' });
        throw err;
      }
    });

    app.get('/bi/api/governance/catalog', { schema: { tags } }, async (req) => {
      const s = await signedIn(req);
      needs(s, 'governance');
      const [tables, columns] = await Promise.all([
        deps.ports.warehouse.query(`SELECT table_name, description, owner, lineage FROM catalog_table ORDER BY table_name`, { rowLimit: 1000 }),
        deps.ports.warehouse.query(`SELECT table_name, column_name, data_type, pii FROM catalog_column ORDER BY table_name, column_name`, { rowLimit: 10_000 }),
      ]);
      const datasetOf = new Map(Object.entries(DATASETS).flatMap(([id, d]) => d.tables.map((t) => [t, id] as const)));
      return {
        tables: tables.map((t) => ({ ...t, dataset: datasetOf.get(String(t.table_name)) ?? null, columns: columns.filter((c) => c.table_name === t.table_name) })),
      };
    });

    app.get('/bi/api/governance/matrix', { schema: { tags } }, async (req) => {
      const s = await signedIn(req);
      needs(s, 'governance');
      return {
        roles: ROLES,
        datasets: Object.entries(DATASETS).map(([id, d]) => ({ id, ...d })),
        grants: Object.fromEntries(ROLES.map((r) => [r, GRANTS[r]])),
        users: (await auth.listUsers()).map((u) => ({ username: u.username, roles: u.roles, disabled: u.disabled })),
      };
    });

    app.get('/bi/api/governance/audit', { schema: { tags, querystring: AuditQuery } }, async (req) => {
      const s = await signedIn(req);
      needs(s, 'governance');
      return { entries: await audit.list(req.query) };
    });

    app.get('/bi/api/admin/users', { schema: { tags } }, async (req) => {
      const s = await signedIn(req);
      needs(s, 'admin');
      return { users: await auth.listUsers(), roles: ROLES };
    });

    app.post('/bi/api/admin/users', { schema: { tags, body: NewUser } }, async (req, reply) => {
      const s = await signedIn(req);
      needs(s, 'admin');
      const user = await auth.createUser(req.body, s.user.username);
      await audit.record(who(s), 'user_admin', `create ${user.username}`, null, { roles: user.roles });
      return reply.code(201).send({ user });
    });

    app.patch('/bi/api/admin/users/:username', { schema: { tags, params: z.object({ username: z.string().max(64) }), body: PatchUser } }, async (req) => {
      const s = await signedIn(req);
      needs(s, 'admin');
      let user: BiUser | undefined;
      if (req.body.roles) user = await auth.setRoles(req.params.username, req.body.roles);
      if (req.body.disabled !== undefined) user = await auth.setDisabled(req.params.username, req.body.disabled);
      if (!user) throw biError('invalid_roles', 'nothing to change');
      await audit.record(who(s), 'user_admin', `update ${user.username}`, null, req.body);
      return { user };
    });

    app.get('/bi/api/alerts', { schema: { tags } }, async (req) => {
      await signedIn(req);
      return { rules: await alerts.list() };
    });

    app.put('/bi/api/alerts/:id', { schema: { tags, params: z.object({ id: z.string().regex(/^[a-z0-9_-]{2,64}$/) }), body: Rule } }, async (req) => {
      const s = await signedIn(req);
      needs(s, 'alerts');
      const rule = await alerts.upsert({ id: req.params.id, ...req.body });
      await audit.record(who(s), 'alert_rule', req.params.id, null, req.body);
      return { rule };
    });

    app.post('/bi/api/alerts/evaluate', { schema: { tags } }, async (req) => {
      const s = await signedIn(req);
      needs(s, 'alerts');
      return { rules: await alerts.evaluate() };
    });

    app.get('/bi/api/fraud-reviews', { schema: { tags } }, async (req) => {
      const s = await signedIn(req);
      if (!s.access.abilities.includes('fraud_review') && !s.access.abilities.includes('governance')) throw biError('forbidden_for_role', 'the review queue is for analysts');
      if (!deps.ports.fraudReviews) return { available: false, reviews: [] };
      return { available: true, reviews: await deps.ports.fraudReviews.list({ limit: 200 }) };
    });

    app.post('/bi/api/fraud-reviews/:id/decision', { schema: { tags, params: z.object({ id: z.string().max(100) }), body: Decision } }, async (req) => {
      const s = await signedIn(req);
      needs(s, 'fraud_review');
      if (!deps.ports.fraudReviews) throw biError('port_unavailable', 'the fraud review queue is not available in this deployment');
      const review = await deps.ports.fraudReviews.decide(req.params.id, { outcome: req.body.outcome, reviewer: s.user.username, ...(req.body.note ? { note: req.body.note } : {}) });
      await audit.record(who(s), 'fraud_review', req.params.id, null, { outcome: req.body.outcome });
      return { review };
    });

    app.all('/bi/api/*', { schema: { hide: true } }, async (req) => {
      throw biError('unknown_panel', `no BI API route ${req.method} ${req.url.split('?')[0] ?? ''}`);
    });

    await staticFiles({ prefix: '/bi', dir: path.join(ROOT, 'web', 'bi'), spa: true })(app);
  };
}
