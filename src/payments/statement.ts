/** A piece of SQL with its own parameters, numbered from $1; as a CTE, named `name`. */
export interface Part {
  sql: string;
  params: unknown[];
  /** The CTE's name, for later parts that read its RETURNING rows. */
  name?: string;
}

/**
 * Joins writes into one statement: each of `writes` becomes a data-modifying CTE and `last`
 * the statement's main query, every part's `$n` renumbered after the parameters of the parts
 * before it. One round trip instead of one per write; all of them see the same snapshot and
 * the foreign keys are checked at the statement's end. Parts must not contain `$` other than
 * their parameters (no dollar quoting).
 *
 * @example
 * const { sql, params } = oneStatement([{ sql: 'INSERT INTO a SELECT * FROM unnest($1::int[])', params: [[1]] }], outbox);
 * await tx.query(sql, params);
 */
export function oneStatement(writes: Part[], last: Part): Part {
  const params: unknown[] = [];
  const renumber = (p: Part) => {
    const offset = params.length;
    params.push(...p.params);
    return p.sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`);
  };
  const ctes = writes.map((w, i) => `${w.name ?? `w${i}`} AS (${renumber(w)})`);
  const main = renumber(last);
  return { sql: ctes.length > 0 ? `WITH ${ctes.join(',\n')}\n${main}` : main, params };
}
