import type { Db } from '../platform/db.js';

export type AuditAction = 'login' | 'login_failed' | 'logout' | 'dashboard' | 'drill' | 'export' | 'query' | 'query_refused' | 'user_admin' | 'fraud_review' | 'alert_rule';

export interface AuditEntry {
  id: number;
  at: string;
  username: string;
  roles: string[];
  action: AuditAction;
  target: string;
  rowCount: number | null;
  detail: Record<string, unknown> | null;
}

/** The append-only access log (a trigger refuses UPDATE, DELETE and TRUNCATE). */
export function createAudit(db: Db) {
  return {
    async record(who: { username: string; roles: readonly string[] }, action: AuditAction, target: string, rowCount: number | null = null, detail?: Record<string, unknown>): Promise<void> {
      await db.query(`INSERT INTO bi_access_audit (username, roles, action, target, row_count, detail) VALUES ($1, $2, $3, $4, $5, $6)`,
        [who.username, [...who.roles], action, target.slice(0, 4000), rowCount, detail ? JSON.stringify(detail) : null]);
    },
    async list(filter: { username?: string; action?: string; limit?: number } = {}): Promise<AuditEntry[]> {
      const res = await db.query<{ id: string; at: Date; username: string; roles: string[]; action: AuditAction; target: string; row_count: string | null; detail: Record<string, unknown> | null }>(
        `SELECT * FROM bi_access_audit WHERE ($1::text IS NULL OR username = $1) AND ($2::text IS NULL OR action = $2)
          ORDER BY id DESC LIMIT $3`, [filter.username ?? null, filter.action ?? null, Math.min(filter.limit ?? 200, 5000)]);
      return res.rows.map((r) => ({ id: Number(r.id), at: r.at.toISOString(), username: r.username, roles: r.roles, action: r.action,
        target: r.target, rowCount: r.row_count === null ? null : Number(r.row_count), detail: r.detail }));
    },
  };
}
export type Audit = ReturnType<typeof createAudit>;
