/** One server of a (possibly multi-host) PostgreSQL URL. */
export interface DbHost {
  host: string;
  port: number;
}

/**
 * What the primary handle asks of a server, as libpq's `target_session_attrs`:
 * `any` takes the first server that accepts a connection, `read-write` the first whose
 * sessions are writable (`transaction_read_only = off`), `primary` the first not in recovery.
 */
export type TargetSessionAttrs = 'any' | 'read-write' | 'primary';

export interface ParsedDatabaseUrl {
  hosts: DbHost[];
  targetSessionAttrs: TargetSessionAttrs;
  /** A single-host URL for one of the hosts (node-postgres understands only those). */
  urlFor(host: DbHost): string;
}

const URL_RE = /^(postgres(?:ql)?):\/\/(?:([^@/?#]*)@)?([^/?#]*)(\/[^?#]*)?(?:\?([^#]*))?$/;
const ATTRS: readonly TargetSessionAttrs[] = ['any', 'read-write', 'primary'];

/**
 * Parses a libpq-style URL, which may list several servers:
 * `postgres://user:pass@h1:5432,h2:5433/db?target_session_attrs=read-write`.
 * node-postgres connects to one host only, so the platform tries the hosts itself, in order.
 *
 * @example
 * const { hosts, targetSessionAttrs, urlFor } = parseDatabaseUrl(process.env.DATABASE_URL!);
 */
export function parseDatabaseUrl(url: string): ParsedDatabaseUrl {
  const m = URL_RE.exec(url.trim());
  if (!m) throw new Error('must be a URL like postgres://user:pass@host:port/db');
  const [, scheme, userinfo, hostList = '', path = '', query = ''] = m;
  const params = new URLSearchParams(query);
  const ports = (params.get('port') ?? '').split(',').filter(Boolean);
  params.delete('port');
  const hosts = hostList.split(',').map((h, i) => parseHost(h, ports[i]));
  if (hosts.length === 0 || hosts.some((h) => h.host === '')) throw new Error('names an empty host');

  const attrs = params.get('target_session_attrs') ?? 'any';
  params.delete('target_session_attrs');
  if (!(ATTRS as readonly string[]).includes(attrs)) {
    throw new Error(`target_session_attrs must be one of ${ATTRS.join(', ')} (got "${attrs}")`);
  }
  const rest = params.toString();
  return {
    hosts,
    targetSessionAttrs: attrs as TargetSessionAttrs,
    urlFor: (h) =>
      `${scheme}://${userinfo !== undefined ? `${userinfo}@` : ''}${formatHost(h)}${path}${rest ? `?${rest}` : ''}`,
  };
}

function parseHost(text: string, portParam: string | undefined): DbHost {
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  const [host, port] = bracket ? [bracket[1] ?? '', bracket[2]] : splitHostPort(text);
  const n = Number(port ?? portParam ?? 5432);
  if (!Number.isInteger(n) || n <= 0 || n > 65535) throw new Error(`has an invalid port for host "${host}"`);
  return { host: decodeURIComponent(host), port: n };
}

function splitHostPort(text: string): [string, string | undefined] {
  const colon = text.lastIndexOf(':');
  return colon < 0 ? [text, undefined] : [text.slice(0, colon), text.slice(colon + 1)];
}

function formatHost(h: DbHost): string {
  return `${h.host.includes(':') ? `[${h.host}]` : encodeURIComponent(h.host)}:${h.port}`;
}

/** `host:port`, a label for logs and metrics that carries no credentials. */
export function hostLabel(h: DbHost): string {
  return `${h.host}:${h.port}`;
}

/**
 * Splits `DATABASE_REPLICA_URLS`: URLs separated by whitespace, or by commas that start a
 * new URL (a comma inside one URL separates its hosts).
 */
export function splitUrlList(value: string): string[] {
  return value
    .split(/\s+|,(?=\s*postgres(?:ql)?:\/\/)/)
    .map((s) => s.trim())
    .filter(Boolean);
}
