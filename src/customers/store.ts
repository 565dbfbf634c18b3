import { outboxInsert, type NewEvent } from '../events/index.js';
import { prepared, type Db } from '../platform/db.js';
import type { DeliveryAddress } from './domain/address.js';

export interface CustomerRow {
  id: string;
  kind: 'registered' | 'guest';
  email: string;
  name: string | null;
  password_hash: string | null;
  created_at: Date;
}

export interface AddressRow {
  id: string;
  customer_id: string;
  recipient_name: string;
  street: string;
  number: string;
  apartment: string | null;
  comuna: string;
  region: string;
  region_code: string;
  phone: string | null;
  reference: string | null;
  created_at: Date;
}

/**
 * Inserts a customer, its first session and its registration event in one statement (one
 * round trip, one commit): nothing is written when the customer conflicts (undefined). The
 * consumers are not notified: wake them after it (events' `outboxWaker`).
 */
export async function insertCustomerWithSession(
  db: Db,
  c: { id: string; kind: 'registered' | 'guest'; email: string; name: string | null; passwordHash: string | null; now: Date },
  session: { digest: Buffer; expiresAt: Date },
  event: NewEvent,
): Promise<CustomerRow | undefined> {
  const ev = outboxInsert([event], 9);
  const { rows } = await db.query<CustomerRow & Record<string, unknown>>(prepared(
    `WITH c AS (
       INSERT INTO customers (id, kind, email, name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT DO NOTHING RETURNING *),
     s AS (INSERT INTO customer_sessions (token_hash, customer_id, created_at, expires_at) SELECT $7, c.id, $6, $8 FROM c),
     e AS (${ev.sql} WHERE EXISTS (SELECT 1 FROM c))
     SELECT * FROM c`),
    [c.id, c.kind, c.email, c.name, c.passwordHash, c.now, session.digest, session.expiresAt, ...ev.params],
  );
  if (rows[0]) ev.appended();
  return rows[0];
}

export async function findRegisteredByEmail(db: Db, email: string): Promise<CustomerRow | undefined> {
  const { rows } = await db.query<CustomerRow & Record<string, unknown>>(
    `SELECT * FROM customers WHERE email = $1 AND kind = 'registered'`,
    [email],
  );
  return rows[0];
}

export async function findCustomer(db: Db, id: string): Promise<CustomerRow | undefined> {
  const { rows } = await db.query<CustomerRow & Record<string, unknown>>(prepared('SELECT * FROM customers WHERE id = $1'), [id]);
  return rows[0];
}

export async function insertSession(db: Db, s: { digest: Buffer; customerId: string; now: Date; expiresAt: Date }): Promise<void> {
  await db.query(prepared('INSERT INTO customer_sessions (token_hash, customer_id, created_at, expires_at) VALUES ($1, $2, $3, $4)'), [
    s.digest, s.customerId, s.now, s.expiresAt,
  ]);
}

/**
 * The live sessions among `digests` with their customers: one index lookup per token, one
 * round trip for the concurrent requests of a batch (it runs on every authenticated request).
 */
export async function findSessionCustomers(db: Db, digests: Buffer[], now: Date): Promise<(CustomerRow & { token_hash: Buffer })[]> {
  const { rows } = await db.query<CustomerRow & { token_hash: Buffer } & Record<string, unknown>>(prepared(
    `SELECT c.*, s.token_hash FROM customer_sessions s JOIN customers c ON c.id = s.customer_id
     WHERE s.token_hash = ANY($1::bytea[]) AND s.revoked_at IS NULL AND s.expires_at > $2`),
    [digests, now],
  );
  return rows;
}

export async function revokeSession(db: Db, digest: Buffer, now: Date): Promise<void> {
  await db.query('UPDATE customer_sessions SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL', [digest, now]);
}

export async function deleteExpiredSessions(db: Db, before: Date): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM customer_sessions WHERE expires_at < $1', [before]);
  return rowCount ?? 0;
}

export async function insertAddress(db: Db, a: DeliveryAddress & { id: string; customerId: string; now: Date }): Promise<AddressRow> {
  const { rows } = await db.query<AddressRow & Record<string, unknown>>(
    prepared(`INSERT INTO customer_addresses (id, customer_id, recipient_name, street, number, apartment, comuna, region, region_code, phone, reference, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING *`),
    [a.id, a.customerId, a.recipientName, a.street, a.number, a.apartment, a.comuna, a.region, a.regionCode, a.phone, a.reference, a.now],
  );
  return rows[0] as AddressRow;
}

export async function listAddresses(db: Db, customerId: string): Promise<AddressRow[]> {
  const { rows } = await db.query<AddressRow & Record<string, unknown>>(
    'SELECT * FROM customer_addresses WHERE customer_id = $1 AND deleted_at IS NULL ORDER BY created_at, id',
    [customerId],
  );
  return rows;
}

export async function countAddresses(db: Db, customerId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    prepared('SELECT count(*)::int AS n FROM customer_addresses WHERE customer_id = $1 AND deleted_at IS NULL'),
    [customerId],
  );
  return rows[0]?.n ?? 0;
}

/**
 * Several customers' addresses in one read (checkout resolves one per order): the live rows of
 * `pairs`, at most one per pair. Ids must be UUIDs.
 */
export async function findAddresses(db: Db, pairs: readonly { customerId: string; id: string }[]): Promise<AddressRow[]> {
  const { rows } = await db.query<AddressRow & Record<string, unknown>>(
    prepared(`SELECT a.* FROM customer_addresses a JOIN unnest($1::uuid[], $2::uuid[]) AS p(id, customer_id)
       ON a.id = p.id AND a.customer_id = p.customer_id WHERE a.deleted_at IS NULL`),
    [pairs.map((p) => p.id), pairs.map((p) => p.customerId)],
  );
  return rows;
}

export async function softDeleteAddress(db: Db, customerId: string, id: string, now: Date): Promise<boolean> {
  const { rowCount } = await db.query(
    'UPDATE customer_addresses SET deleted_at = $3 WHERE id = $1 AND customer_id = $2 AND deleted_at IS NULL',
    [id, customerId, now],
  );
  return (rowCount ?? 0) > 0;
}
