import { createHash } from 'node:crypto';
import type pg from 'pg';

/** A statement sent as a named prepared statement (see `prepared`). */
export interface PreparedSql {
  readonly name: string;
  readonly text: string;
}

const preparedNames = new Map<string, PreparedSql>();

/**
 * Marks a hot statement to be prepared: each connection parses (and, for a reused generic
 * plan, plans) it once instead of on every call. The name is derived from the text, so
 * statements built from parts get one prepared statement per distinct text. Only for
 * statements whose plans do not depend much on their parameters' values.
 *
 * @example
 * await db.query(prepared('SELECT * FROM carts WHERE id = $1'), [id]);
 */
export function prepared(text: string): PreparedSql {
  let p = preparedNames.get(text);
  if (!p) {
    if (preparedNames.size > 10_000) preparedNames.clear();
    p = { name: `embudo_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`, text };
    preparedNames.set(text, p);
  }
  return p;
}

/** Runs `sql` on a pg client, as a named prepared statement when it is one. */
export function clientQuery<R extends pg.QueryResultRow>(client: pg.ClientBase, sql: string | PreparedSql, params?: readonly unknown[]): Promise<pg.QueryResult<R>> {
  return typeof sql === 'string'
    ? client.query<R>(sql, params as unknown[] | undefined)
    : client.query<R>({ name: sql.name, text: sql.text, values: params as unknown[] | undefined });
}
