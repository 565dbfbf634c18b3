/**
 * The SQL explorer's read-only guard, applied to DuckDB's own parse tree
 * (`json_serialize_sql`, which only serialises SELECT statements): one statement; every table
 * a known warehouse table the user may read (or a CTE of the query); table functions limited to
 * generators; no function that reaches files, the network, settings or the environment.
 */

const TABLE_FUNCTIONS = new Set(['range', 'generate_series', 'unnest']);
const DENIED_FUNCTION = /^(read_|parquet_|glob$|sniff_csv|getenv$|current_setting$|query$|query_table$|duckdb_|pragma_|which_secret|load_|install_|export_|import_|copy|attach|detach|checkpoint|force_checkpoint|set_|enable_|disable_|sqlite_|postgres_|mysql_|iceberg_|delta_|http|s3|from_substrait|to_substrait|json_execute_serialized_sql)/i;

export type GuardVerdict =
  | { ok: true }
  | { ok: false; code: 'sql_invalid' | 'sql_not_read_only' | 'sql_file_access' | 'sql_table_not_allowed' | 'sql_function_not_allowed'; message: string };

interface Node { [k: string]: unknown }

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Judges the `json_serialize_sql` output of a statement. */
export function judgeParseTree(serialized: string, allowedTables: ReadonlySet<string>): GuardVerdict {
  let tree: Node;
  try {
    tree = JSON.parse(serialized) as Node;
  } catch {
    return { ok: false, code: 'sql_invalid', message: 'the statement could not be parsed' };
  }
  if (tree.error === true) {
    const msg = str(tree.error_message);
    if (/only select/i.test(msg)) return { ok: false, code: 'sql_not_read_only', message: 'only read-only SELECT queries are allowed (no writes, DDL, COPY, ATTACH, INSTALL/LOAD, PRAGMA or SET)' };
    return { ok: false, code: 'sql_invalid', message: msg.split('\n')[0] || 'syntax error' };
  }
  const statements = Array.isArray(tree.statements) ? tree.statements : [];
  if (statements.length !== 1) return { ok: false, code: 'sql_invalid', message: 'exactly one statement, please' };

  const ctes = new Set<string>();
  const tables: { schema: string; catalog: string; name: string }[] = [];
  const functions: string[] = [];
  const tableFunctions: string[] = [];
  const walk = (n: unknown): void => {
    if (Array.isArray(n)) {
      for (const x of n) walk(x);
      return;
    }
    if (!n || typeof n !== 'object') return;
    const node = n as Node;
    const cteMap = node.cte_map as { map?: { key: string }[] } | undefined;
    for (const c of cteMap?.map ?? []) ctes.add(str(c.key).toLowerCase());
    if (node.type === 'BASE_TABLE') {
      tables.push({ schema: str(node.schema_name), catalog: str(node.catalog_name), name: str(node.table_name) });
    }
    if (node.type === 'TABLE_FUNCTION') {
      const fn = node.function as Node | undefined;
      tableFunctions.push(str(fn?.function_name));
    }
    if (node.class === 'FUNCTION' && typeof node.function_name === 'string') functions.push(node.function_name);
    for (const v of Object.values(node)) if (v && typeof v === 'object') walk(v);
  };
  walk(statements);

  for (const f of functions) {
    if (DENIED_FUNCTION.test(f)) return { ok: false, code: /^(read_|parquet_|glob|sniff|copy|attach|http|s3|sqlite|postgres|mysql|iceberg|delta)/i.test(f) ? 'sql_file_access' : 'sql_function_not_allowed', message: `function ${f} is not allowed in the explorer` };
  }
  for (const f of tableFunctions) {
    if (!TABLE_FUNCTIONS.has(f.toLowerCase())) {
      return { ok: false, code: /^(read_|parquet_|glob|sniff)/i.test(f) ? 'sql_file_access' : 'sql_function_not_allowed', message: `table function ${f} is not allowed in the explorer` };
    }
  }
  for (const t of tables) {
    const name = t.name.toLowerCase();
    if (/[./\\:]/.test(t.name) || name.includes('://')) return { ok: false, code: 'sql_file_access', message: `reading files (${t.name}) is not allowed` };
    if (t.catalog !== '' || (t.schema !== '' && t.schema.toLowerCase() !== 'main')) {
      return { ok: false, code: 'sql_table_not_allowed', message: `only the warehouse's main schema can be read (${[t.catalog, t.schema, t.name].filter(Boolean).join('.')})` };
    }
    if (!ctes.has(name) && !allowedTables.has(name)) return { ok: false, code: 'sql_table_not_allowed', message: `table ${t.name} is not among the datasets your roles can read` };
  }
  return { ok: true };
}
