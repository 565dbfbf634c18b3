import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../platform/clock.js';
import { prepared, type Db } from '../platform/db.js';
import { httpStatus, isAppError } from '../platform/errors.js';
import { groupCommit } from '../platform/group-commit.js';
import { checkoutError } from './errors.js';

/** A response as stored for replay. */
export interface StoredResponse {
  status: number;
  body: unknown;
}

export interface IdempotencyOptions {
  db: Db;
  clock: Clock;
  /** How long a claim holds before another request may take it over (a crashed owner). */
  leaseMs?: number;
  /** How long a duplicate waits for the first request's answer. */
  waitMs?: number;
  /** How long keys are kept; at least 24 h. */
  retentionMs?: number;
}

const MAX_KEY = 255;
const KEY_CHARS = /^[\x21-\x7e]+$/;

/**
 * Idempotency-Key handling for state-changing requests, after Stripe: the first response
 * (success or error) is stored and replayed for the same key and body; the same key with a
 * different body is refused; a duplicate arriving while the first runs waits for its answer.
 *
 * A key is claimed by inserting its row in its own short statement with a lease, so a
 * waiting duplicate holds no connection (holding one per waiter could starve the pool the
 * first request needs to finish). Unexpected failures (5xx) free the key for a retry.
 */
export function createIdempotency(options: IdempotencyOptions) {
  const { db, clock } = options;
  const leaseMs = options.leaseMs ?? 30_000;
  const waitMs = options.waitMs ?? 30_000;
  const retentionMs = Math.max(options.retentionMs ?? 24 * 3600_000, 24 * 3600_000);

  // Claims and completions of concurrent requests are written together, one statement per
  // batch (group commit): on the checkout hot path they are two of its few commits. A claim
  // does not wait for its WAL flush (synchronous_commit off for its statement): nobody hears
  // of it before the request answers, and every answer is stored by a completion that waits
  // for its own flush, which covers the claim's (the WAL is flushed in order). A crash in
  // between loses a claim whose request never answered: a retry claims the key again.
  type Claim = { scope: string; key: string; fingerprint: Buffer; owner: string };
  const claimMany = groupCommit(async (claims: Claim[]): Promise<boolean[]> => {
    // One row per key per statement (ON CONFLICT cannot touch a row twice): a duplicate in
    // the same batch is simply not claimed, and waits for the first like any duplicate.
    const seen = new Set<string>();
    const fresh = claims.filter((c) => {
      const id = `${c.scope}\u0000${c.key}`;
      return seen.has(id) ? false : (seen.add(id), true);
    });
    const now = clock.now();
    const { rows } = await db.query<{ owner: string }>(prepared(
      `INSERT INTO checkout_idempotency_keys AS k (scope, key, fingerprint, state, owner, lease_until, created_at)
       SELECT scope, key, fingerprint, 'running', owner, $5, $6 FROM unnest($1::text[], $2::text[], $3::bytea[], $4::uuid[]) AS t(scope, key, fingerprint, owner)
         CROSS JOIN (SELECT set_config('synchronous_commit', 'off', true)) no_flush_wait
       ON CONFLICT (scope, key) DO UPDATE SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until
         WHERE k.state = 'running' AND k.lease_until < $6 AND k.fingerprint = EXCLUDED.fingerprint
       RETURNING owner`),
      [fresh.map((c) => c.scope), fresh.map((c) => c.key), fresh.map((c) => c.fingerprint), fresh.map((c) => c.owner), new Date(now.getTime() + leaseMs), now],
    );
    const won = new Set(rows.map((r) => r.owner));
    return claims.map((c) => won.has(c.owner));
  });
  const claim = (scope: string, key: string, fingerprint: Buffer, owner: string) => claimMany({ scope, key, fingerprint, owner });

  /** `json`: the response's body as stored (JSON text), serialised once for the answer and the row. */
  type Done = { scope: string; key: string; owner: string; status: number; json: string };
  const complete = groupCommit(async (done: Done[]): Promise<void[]> => {
    await db.query(prepared(
      `UPDATE checkout_idempotency_keys k SET state = 'done', status_code = t.status_code, body = t.body::json, completed_at = $6
         FROM unnest($1::text[], $2::text[], $3::uuid[], $4::int[], $5::text[]) AS t(scope, key, owner, status_code, body)
        WHERE k.scope = t.scope AND k.key = t.key AND k.owner = t.owner`),
      [done.map((d) => d.scope), done.map((d) => d.key), done.map((d) => d.owner), done.map((d) => d.status),
        done.map((d) => d.json), clock.now()],
    );
    return done.map(() => undefined);
  });

  const read = async (scope: string, key: string) => {
    const { rows } = await db.query<{ fingerprint: Buffer; state: 'running' | 'done'; status_code: number | null; body: unknown }>(
      'SELECT fingerprint, state, status_code, body FROM checkout_idempotency_keys WHERE scope = $1 AND key = $2',
      [scope, key],
    );
    return rows[0];
  };

  return {
    /**
     * Runs `execute` at most once for (scope, key); returns its stored response on repeats.
     * `mismatch` is true when the key was first used with another request.
     */
    async run(
      scope: string,
      key: string,
      fingerprint: Buffer,
      execute: () => Promise<StoredResponse>,
    ): Promise<StoredResponse & { replayed: boolean; mismatch?: boolean }> {
      const owner = randomUUID();
      const deadline = performance.now() + waitMs;
      for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
        if (await claim(scope, key, fingerprint, owner)) break;
        const row = await read(scope, key);
        if (!row) continue; // the first attempt failed and freed the key: claim it again
        if (!row.fingerprint.equals(fingerprint)) return { status: 422, body: undefined, replayed: false, mismatch: true };
        if (row.state === 'done' && row.status_code !== null) return { status: row.status_code, body: row.body, replayed: true };
        if (performance.now() > deadline) {
          throw checkoutError('idempotency_in_progress', 'a request with this Idempotency-Key is still being processed; retry later');
        }
        await sleep(pause);
      }
      let response: StoredResponse;
      let json: string;
      try {
        const out = await execute();
        // Stored as JSON: the first answer and its replays must be byte-for-byte the same.
        json = JSON.stringify(out.body ?? null);
        response = { status: out.status, body: JSON.parse(json) as unknown };
      } catch (err) {
        await db.query('DELETE FROM checkout_idempotency_keys WHERE scope = $1 AND key = $2 AND owner = $3', [scope, key, owner]);
        throw err;
      }
      await complete({ scope, key, owner, status: response.status, json });
      return { ...response, replayed: false };
    },

    /** Deletes keys older than the retention (≥ 24 h). Returns how many. */
    async prune(limit = 10_000): Promise<number> {
      const cutoff = new Date(clock.now().getTime() - retentionMs);
      const { rowCount } = await db.query(
        `DELETE FROM checkout_idempotency_keys WHERE ctid = ANY (ARRAY(
           SELECT ctid FROM checkout_idempotency_keys WHERE created_at < $1 AND (state = 'done' OR lease_until < $2) LIMIT $3))`,
        [cutoff, clock.now(), limit],
      );
      return rowCount ?? 0;
    },
  };
}

export type Idempotency = ReturnType<typeof createIdempotency>;

/** Canonical JSON (sorted keys) so the same body always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function requestFingerprint(method: string, route: string, params: unknown, body: unknown): Buffer {
  return createHash('sha256').update(`${method} ${route}\n${canonicalJson(params)}\n${canonicalJson(body)}`).digest();
}

/** Runs a route's handler under the request's Idempotency-Key and sends the (maybe replayed) answer. */
export type IdempotentHandler = (
  req: FastifyRequest,
  reply: FastifyReply,
  scope: string,
  execute: () => Promise<StoredResponse>,
) => Promise<FastifyReply>;

/**
 * The HTTP side: reads and checks the header, turns expected errors (AppError) into stored
 * responses, marks replays with `Idempotent-Replayed: true`, answers 422 on a body mismatch.
 */
export function idempotentHandler(idem: Idempotency): IdempotentHandler {
  return async (req, reply, scope, execute) => {
    const header = req.headers['idempotency-key'];
    const key = Array.isArray(header) ? header[0] : header;
    if (key === undefined || key === '') throw checkoutError('idempotency_key_required', 'this request needs an Idempotency-Key header');
    if (key.length > MAX_KEY || !KEY_CHARS.test(key)) {
      throw checkoutError('invalid_idempotency_key', `the Idempotency-Key must be 1-${MAX_KEY} visible ASCII characters`);
    }
    const fingerprint = requestFingerprint(req.method, req.routeOptions.url ?? req.url, req.params, req.body);
    const result = await idem.run(scope, key, fingerprint, async () => {
      try {
        return await execute();
      } catch (err) {
        if (!isAppError(err) || httpStatus(err.kind) >= 500) throw err;
        return {
          status: httpStatus(err.kind),
          body: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}), request_id: req.id },
        };
      }
    });
    if (result.mismatch) {
      return reply.code(422).send({
        code: 'idempotency_mismatch',
        message: 'this Idempotency-Key was used with a different request',
        request_id: req.id,
      });
    }
    if (result.replayed) void reply.header('idempotent-replayed', 'true');
    return reply.code(result.status).send(result.body);
  };
}
