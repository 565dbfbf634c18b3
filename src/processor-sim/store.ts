import { PgCode, pgErrorCode, prepared, type Database, type Db } from '../platform/db.js';
import { groupCommit } from '../platform/group-commit.js';

/** The kinds of documents the simulator keeps. */
export type RecordKind =
  | 'webpay'
  | 'inscription'
  | 'tbk_user'
  | 'oneclick'
  | 'mp_payment'
  | 'mp_card_token'
  | 'mp_idempotency'
  | 'webhook'
  | 'counter';

export interface LogEntry {
  at: Date;
  direction: 'in' | 'out';
  summary: string;
  status?: number;
}

/**
 * The simulator's storage: documents by kind and id, each with an optional due time. The
 * PostgreSQL store survives restarts (the platform's janitor may query a transaction days
 * later); the memory store serves unit tests.
 */
export interface SimStore {
  get<T>(kind: RecordKind, id: string): Promise<T | undefined>;
  /** Inserts; false when the id already exists (nothing written). */
  insert<T>(kind: RecordKind, id: string, data: T, dueAt?: Date | null): Promise<boolean>;
  /**
   * Reads, changes and writes one document atomically (row lock / per-key queue). `fn`
   * returns the new document (or undefined to leave it) and the value to hand back.
   */
  update<T, R>(
    kind: RecordKind,
    id: string,
    fn: (current: T | undefined) => { data?: T; dueAt?: Date | null; result: R },
  ): Promise<R>;
  /** Ids of documents of a kind due at or before `at`, oldest first. */
  due(kind: RecordKind, at: Date, limit: number): Promise<string[]>;
  list<T>(kind: RecordKind, limit: number): Promise<T[]>;
  log(entry: LogEntry): Promise<void>;
  recentLog(limit: number): Promise<LogEntry[]>;
  /** Writes what waits in memory (log lines batched together); for shutdown. */
  flush(): Promise<void>;
}

// An update reads without a lock and writes only if the row is still the version it read
// (its xmin): two statements, no transaction, instead of BEGIN, SELECT ... FOR UPDATE, UPDATE,
// COMMIT. A lost race reads again; past a few (one hot document, e.g. a counter) it takes
// the row lock instead.
const OPTIMISTIC_ATTEMPTS = 4;
// Log lines are written together: at most this long after the first of a batch.
const LOG_FLUSH_MS = 50;
const LOG_BATCH_MAX = 500;

// The documents this store last read or wrote, with their versions: an update of one of them
// skips the read (the write's xmin guard still refuses it if anything wrote the row since).
// Some seconds of traffic: a Webpay transaction is created, paid and committed within it, also
// under the 200 orders/s live load where each step waits a second or two (with 2,000 the
// simulator still read about 0.7 documents per order there).
const RECENT_MAX = 10_000;

const READ_VERSIONED = prepared('SELECT data, xmin::text AS v FROM sim_records WHERE kind = $1 AND id = $2');
const READ_VERSION = prepared('SELECT xmin::text AS v FROM sim_records WHERE kind = $1 AND id = $2');
// Inserts and guarded updates of concurrent requests are written together, one statement (one
// round trip, one commit) per batch: under the live load the simulator's writes were about
// five autocommit statements per order. Each document is in a batch at most once (a second
// write of it in the same batch waits for the next one), so every answer maps to one input.
const INSERT_NEW = prepared(
  `INSERT INTO sim_records (kind, id, data, due_at)
   SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::timestamptz[])
   ON CONFLICT DO NOTHING RETURNING kind, id, xmin::text AS v`,
);
const UPDATE_IF_SAME = prepared(
  `UPDATE sim_records r SET data = t.data, due_at = CASE WHEN t.set_due THEN t.due_at ELSE r.due_at END, updated_at = now()
     FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::text[], $5::boolean[], $6::timestamptz[]) AS t(kind, id, data, v, set_due, due_at)
    WHERE r.kind = t.kind AND r.id = t.id AND r.xmin = t.v::xid
   RETURNING r.kind, r.id, r.xmin::text AS v`,
);

type Write = { kind: RecordKind; id: string; json: string; dueAt: Date | null | undefined; v?: string };

/** A document's key in maps and batches. */
const keyOf = (kind: string, id: string) => `${kind}\u0000${id}`;

/**
 * Runs batches of writes as `sql` and answers each with the row version it wrote (undefined:
 * not written). A document already written earlier in its batch goes into a later batch.
 */
function batchWriter(db: Database, sql: ReturnType<typeof prepared>, params: (ws: Write[]) => unknown[]) {
  return groupCommit(async (writes: Write[]): Promise<(string | undefined)[]> => {
    const { rows } = await db.query<{ kind: string; id: string; v: string }>(sql, params(writes));
    const written = new Map(rows.map((r) => [keyOf(r.kind, r.id), r.v]));
    return writes.map((w) => written.get(keyOf(w.kind, w.id)));
  }, { maxInFlight: 1, key: (w) => keyOf(w.kind, w.id) });
}

/** A store in PostgreSQL (tables sim_records, sim_log). */
export function pgStore(db: Database): SimStore {
  const lockedUpdate = async <T, R>(
    tx: Db,
    kind: RecordKind,
    id: string,
    fn: (current: T | undefined) => { data?: T; dueAt?: Date | null; result: R },
  ): Promise<R> => {
    const { rows } = await tx.query<{ data: T }>('SELECT data FROM sim_records WHERE kind = $1 AND id = $2 FOR UPDATE', [kind, id]);
    const current = rows[0]?.data;
    const out = fn(current);
    if (out.data !== undefined) {
      const due = out.dueAt === undefined ? undefined : out.dueAt;
      if (current === undefined) {
        await tx.query('INSERT INTO sim_records (kind, id, data, due_at) VALUES ($1, $2, $3, $4)', [kind, id, JSON.stringify(out.data), due ?? null]);
      } else if (due === undefined) {
        await tx.query('UPDATE sim_records SET data = $3, updated_at = now() WHERE kind = $1 AND id = $2', [kind, id, JSON.stringify(out.data)]);
      } else {
        await tx.query('UPDATE sim_records SET data = $3, due_at = $4, updated_at = now() WHERE kind = $1 AND id = $2', [
          kind,
          id,
          JSON.stringify(out.data),
          due,
        ]);
      }
    }
    return out.result;
  };
  const insertNew = batchWriter(db, INSERT_NEW, (ws) => [ws.map((w) => w.kind), ws.map((w) => w.id), ws.map((w) => w.json), ws.map((w) => w.dueAt ?? null)]);
  const updateIfSame = batchWriter(db, UPDATE_IF_SAME, (ws) => [
    ws.map((w) => w.kind), ws.map((w) => w.id), ws.map((w) => w.json), ws.map((w) => w.v ?? null),
    ws.map((w) => w.dueAt !== undefined), ws.map((w) => w.dueAt ?? null),
  ]);
  const recent = new Map<string, { json: string; v: string }>();
  const remember = (key: string, json: string, v: string | undefined) => {
    recent.delete(key);
    if (v === undefined) return;
    recent.set(key, { json, v });
    if (recent.size > RECENT_MAX) recent.delete(recent.keys().next().value as string);
  };
  /** One optimistic attempt: the result, or `retry` when another write came first. */
  const optimisticUpdate = async <T, R>(
    kind: RecordKind,
    id: string,
    fn: (current: T | undefined) => { data?: T; dueAt?: Date | null; result: R },
  ): Promise<{ result: R } | 'retry'> => {
    const key = keyOf(kind, id);
    const known = recent.get(key);
    let row: { data: T; v: string } | undefined;
    if (known) row = { data: JSON.parse(known.json) as T, v: known.v };
    else {
      ({ rows: [row] } = await db.query<{ data: T; v: string }>(READ_VERSIONED, [kind, id]));
      if (row) remember(key, JSON.stringify(row.data), row.v);
    }
    const out = fn(row?.data);
    if (out.data === undefined) {
      // Nothing to write, decided on a remembered version: only if it is still the current one.
      if (!known) return { result: out.result };
      const { rows } = await db.query<{ v: string }>(READ_VERSION, [kind, id]);
      if (rows[0]?.v === known.v) return { result: out.result };
      recent.delete(key);
      return 'retry';
    }
    const data = JSON.stringify(out.data);
    const written = !row
      ? await insertNew({ kind, id, json: data, dueAt: out.dueAt })
      : await updateIfSame({ kind, id, json: data, dueAt: out.dueAt, v: row.v });
    remember(key, data, written);
    return written !== undefined ? { result: out.result } : 'retry';
  };

  let pendingLog: { entries: LogEntry[]; written: Promise<void>; flush: () => void } | undefined;
  let logWrites: Promise<void> = Promise.resolve();
  const writeLog = async (entries: LogEntry[]) => {
    await db.query(
      prepared('INSERT INTO sim_log (at, direction, summary, status) SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::int[])'),
      [entries.map((e) => e.at), entries.map((e) => e.direction), entries.map((e) => e.summary.slice(0, 500)), entries.map((e) => e.status ?? null)],
    );
  };
  /** The log lines waiting for their batch, written now (after the batches before them). */
  const flushLog = (): Promise<void> => {
    pendingLog?.flush();
    return logWrites;
  };
  return {
    async get<T>(kind: RecordKind, id: string) {
      const { rows } = await db.query<{ data: T; v: string }>(READ_VERSIONED, [kind, id]);
      const row = rows[0];
      if (row) remember(keyOf(kind, id), JSON.stringify(row.data), row.v);
      return row?.data;
    },
    async insert<T>(kind: RecordKind, id: string, data: T, dueAt?: Date | null) {
      const json = JSON.stringify(data);
      const v = await insertNew({ kind, id, json, dueAt });
      if (v !== undefined) remember(keyOf(kind, id), json, v);
      return v !== undefined;
    },
    async update(kind, id, fn) {
      for (let attempt = 0; attempt < OPTIMISTIC_ATTEMPTS; attempt++) {
        const out = await optimisticUpdate(kind, id, fn);
        if (out !== 'retry') return out.result;
      }
      // A first write racing another first write of the same id loses on the primary key;
      // running again then finds the row and locks it.
      recent.delete(keyOf(kind, id));
      for (let attempt = 0; ; attempt++) {
        try {
          return await db.transaction((tx) => lockedUpdate(tx, kind, id, fn));
        } catch (err) {
          if (pgErrorCode(err) !== PgCode.uniqueViolation || attempt >= 3) throw err;
        }
      }
    },
    async due(kind, at, limit) {
      const { rows } = await db.query<{ id: string }>(
        'SELECT id FROM sim_records WHERE kind = $1 AND due_at <= $2 ORDER BY due_at, id LIMIT $3',
        [kind, at, limit],
      );
      return rows.map((r) => r.id);
    },
    async list<T>(kind: RecordKind, limit: number) {
      const { rows } = await db.query<{ data: T }>('SELECT data FROM sim_records WHERE kind = $1 ORDER BY created_at DESC LIMIT $2', [kind, limit]);
      return rows.map((r) => r.data);
    },
    log(entry) {
      // One INSERT per batch of lines (one per API call before: a round trip and a commit each).
      if (!pendingLog) {
        const entries: LogEntry[] = [];
        let flush = () => undefined as void;
        const written = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => flush(), LOG_FLUSH_MS);
          flush = () => {
            clearTimeout(timer);
            if (pendingLog?.entries !== entries) return; // written already
            pendingLog = undefined;
            const write = logWrites.then(() => writeLog(entries));
            logWrites = write.catch(() => undefined);
            write.then(resolve, reject);
          };
        });
        // Callers wait for a batch when it suits them (the webhook deliveries after their loop):
        // a write that fails first (the database gone) is theirs to see, never an unhandled rejection.
        written.catch(() => undefined);
        pendingLog = { entries, written, flush: () => flush() };
      }
      const batch = pendingLog;
      batch.entries.push(entry);
      if (batch.entries.length >= LOG_BATCH_MAX) batch.flush();
      return batch.written;
    },
    flush: flushLog,
    async recentLog(limit) {
      await flushLog();
      const { rows } = await db.query<{ at: Date; direction: 'in' | 'out'; summary: string; status: number | null }>(
        'SELECT at, direction, summary, status FROM sim_log ORDER BY id DESC LIMIT $1',
        [limit],
      );
      return rows.map((r) => ({ at: r.at, direction: r.direction, summary: r.summary, ...(r.status === null ? {} : { status: r.status }) }));
    },
  };
}

/** A store in memory, for unit tests and throwaway demos (lost on restart). */
export function memoryStore(): SimStore {
  const docs = new Map<string, { data: string; dueAt: Date | null; seq: number }>();
  const logs: LogEntry[] = [];
  let seq = 0;
  const key = (kind: RecordKind, id: string) => `${kind}\u0000${id}`;
  // Every update runs synchronously between awaits, so no per-key queue is needed.
  return {
    async get<T>(kind: RecordKind, id: string) {
      const d = docs.get(key(kind, id));
      return d ? (JSON.parse(d.data) as T) : undefined;
    },
    async insert<T>(kind: RecordKind, id: string, data: T, dueAt?: Date | null) {
      if (docs.has(key(kind, id))) return false;
      docs.set(key(kind, id), { data: JSON.stringify(data), dueAt: dueAt ?? null, seq: ++seq });
      return true;
    },
    async update<T, R>(kind: RecordKind, id: string, fn: (current: T | undefined) => { data?: T; dueAt?: Date | null; result: R }) {
      const k = key(kind, id);
      const prior = docs.get(k);
      const out = fn(prior ? (JSON.parse(prior.data) as T) : undefined);
      if (out.data !== undefined) {
        docs.set(k, {
          data: JSON.stringify(out.data),
          dueAt: out.dueAt === undefined ? (prior?.dueAt ?? null) : out.dueAt,
          seq: prior?.seq ?? ++seq,
        });
      }
      return out.result;
    },
    async due(kind, at, limit) {
      const prefix = `${kind}\u0000`;
      return [...docs.entries()]
        .filter(([k, d]) => k.startsWith(prefix) && d.dueAt !== null && d.dueAt.getTime() <= at.getTime())
        .sort((a, b) => (a[1].dueAt?.getTime() ?? 0) - (b[1].dueAt?.getTime() ?? 0) || a[1].seq - b[1].seq)
        .slice(0, limit)
        .map(([k]) => k.slice(prefix.length));
    },
    async list<T>(kind: RecordKind, limit: number) {
      const prefix = `${kind}\u0000`;
      return [...docs.entries()]
        .filter(([k]) => k.startsWith(prefix))
        .sort((a, b) => b[1].seq - a[1].seq)
        .slice(0, limit)
        .map(([, d]) => JSON.parse(d.data) as T);
    },
    async log(entry) {
      logs.push(entry);
      if (logs.length > 1000) logs.shift();
    },
    async recentLog(limit) {
      return logs.slice(-limit).reverse();
    },
    async flush() {},
  };
}
