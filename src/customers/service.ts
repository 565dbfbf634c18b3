import { randomUUID } from 'node:crypto';
import { appendEvents, outboxWaker } from '../events/index.js';
import type { Clock } from '../platform/clock.js';
import { isUuid, prepared, type Database } from '../platform/db.js';
import { groupCommit } from '../platform/group-commit.js';
import { decoyHash, hashPassword, newSessionToken, tokenDigest, verifyPassword } from './auth.js';
import { validateAddress, type AddressInput, type DeliveryAddress } from './domain/address.js';
import { customersError } from './errors.js';
import type { AddressAddedV1, CustomerRegisteredV1 } from './events.js';
import * as store from './store.js';

/** A customer as other contexts and the API see it (never the password hash). */
export interface Customer {
  id: string;
  kind: 'registered' | 'guest';
  email: string;
  name: string | null;
  createdAt: Date;
}

/** A saved delivery address. */
export interface Address extends DeliveryAddress {
  id: string;
  customerId: string;
  createdAt: Date;
}

/** A session just opened: the token is shown to the client once and stored only hashed. */
export interface NewSession {
  customer: Customer;
  token: string;
  expiresAt: Date;
}

export interface CustomersServiceDeps {
  db: Database;
  clock: Clock;
  /** Session lifetime; 30 days by default. */
  sessionTtlMs?: number;
}

const MAX_ADDRESSES = 20;
const MIN_PASSWORD = 10;

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function createCustomersService(deps: CustomersServiceDeps) {
  const { db, clock } = deps;
  const ttl = deps.sessionTtlMs ?? 30 * 24 * 3600 * 1000;

  const openSession = async (customer: Customer): Promise<NewSession> => {
    const { token, digest } = newSessionToken();
    const now = clock.now();
    const expiresAt = new Date(now.getTime() + ttl);
    await store.insertSession(db, { digest, customerId: customer.id, now, expiresAt });
    return { customer, token, expiresAt };
  };

  // Sign-ups and new addresses wake the outbox consumers after their commit (shared, spaced
  // wake-ups) instead of a NOTIFY in their transaction: every sign-in of the live load did one.
  const wake = outboxWaker(db);

  // Concurrent checkouts read their addresses together: one statement per batch instead of
  // one per checkout (each read is a round trip to the server). A batch's snapshot is taken
  // after every read in it was asked for, so each sees what committed before it asked.
  const addressOf = groupCommit(async (pairs: { customerId: string; id: string }[]) => {
    const found = await store.findAddresses(db, pairs);
    // The server answers ids in lower case, whatever case they were asked in.
    return pairs.map((p) => found.find((a) => a.id === p.id.toLowerCase() && a.customer_id === p.customerId.toLowerCase()));
  }, { maxInFlight: 4 });

  /** A new customer with its first session: customer, session and event in one statement. */
  const create = async (kind: 'registered' | 'guest', email: string, name: string | null, passwordHash: string | null): Promise<NewSession> => {
    const now = clock.now();
    const id = randomUUID();
    const { token, digest } = newSessionToken();
    const expiresAt = new Date(now.getTime() + ttl);
    const payload: CustomerRegisteredV1 = { customerId: id, kind, registeredAt: now.toISOString() };
    const row = await store.insertCustomerWithSession(
      db,
      { id, kind, email: normalizeEmail(email), name, passwordHash, now },
      { digest, expiresAt },
      { type: 'customers.customer_registered', version: 1, aggregateType: 'customer', aggregateId: id, payload },
    );
    if (!row) throw customersError('email_taken', 'an account with that email already exists');
    wake();
    return { customer: toCustomer(row), token, expiresAt };
  };

  // Every authenticated request looks its session up: concurrent requests share one query
  // (the rows are read when the batch runs, so a session revoked before that is refused).
  const sessionsOf = groupCommit(async (digests: Buffer[]) => {
    const rows = await store.findSessionCustomers(db, [...new Map(digests.map((d) => [d.toString('hex'), d])).values()], clock.now());
    const byDigest = new Map(rows.map((r) => [r.token_hash.toString('hex'), r]));
    return digests.map((d) => byDigest.get(d.toString('hex')));
  }, { maxInFlight: 4 });

  return {
    /** Registers an account and opens its first session. */
    async register(input: { email: string; password: string; name?: string | undefined }): Promise<NewSession> {
      if (input.password.length < MIN_PASSWORD) {
        throw customersError('weak_password', `the password needs at least ${MIN_PASSWORD} characters`);
      }
      const hash = await hashPassword(input.password);
      return create('registered', input.email, input.name?.trim() || null, hash);
    },

    /** A guest customer (email only) with a session, for checkout without an account. */
    async guest(input: { email: string; name?: string | undefined }): Promise<NewSession> {
      return create('guest', input.email, input.name?.trim() || null, null);
    },

    async login(input: { email: string; password: string }): Promise<NewSession> {
      const row = await store.findRegisteredByEmail(db, normalizeEmail(input.email));
      const ok = await verifyPassword(input.password, row?.password_hash ?? (await decoyHash()));
      if (!row || !ok) throw customersError('invalid_credentials', 'wrong email or password');
      return openSession(toCustomer(row));
    },

    async logout(token: string): Promise<void> {
      await store.revokeSession(db, tokenDigest(token), clock.now());
    },

    /** The customer holding a live session token, or undefined. */
    async authenticate(token: string): Promise<Customer | undefined> {
      if (token.length < 20 || token.length > 100) return undefined;
      const row = await sessionsOf(tokenDigest(token));
      return row ? toCustomer(row) : undefined;
    },

    async getCustomer(id: string): Promise<Customer> {
      const row = await store.findCustomer(db, id);
      if (!row) throw customersError('customer_not_found', 'no such customer');
      return toCustomer(row);
    },

    /** Validates and saves a delivery address; throws `invalid_address` with every problem. */
    async addAddress(customerId: string, input: AddressInput): Promise<Address> {
      const result = validateAddress(input);
      if (!result.ok) throw customersError('invalid_address', 'the address is not valid', { problems: result.problems });
      const id = randomUUID();
      const now = clock.now();
      const row = await db.transaction(async (tx) => {
        // Serialises a customer's concurrent additions so the limit holds.
        await tx.query(prepared('SELECT 1 FROM customers WHERE id = $1 FOR UPDATE'), [customerId]);
        if ((await store.countAddresses(tx, customerId)) >= MAX_ADDRESSES) {
          throw customersError('too_many_addresses', `at most ${MAX_ADDRESSES} addresses per customer`);
        }
        const inserted = await store.insertAddress(tx, { ...result.address, id, customerId, now });
        const payload: AddressAddedV1 = {
          customerId, addressId: id, comuna: inserted.comuna, region: inserted.region, regionCode: inserted.region_code,
        };
        await appendEvents(tx, [{ type: 'customers.address_added', version: 1, aggregateType: 'customer', aggregateId: customerId, payload }], { notify: false });
        return inserted;
      });
      wake();
      return toAddress(row);
    },

    async listAddresses(customerId: string): Promise<Address[]> {
      return (await store.listAddresses(db, customerId)).map(toAddress);
    },

    /** One of the customer's addresses; throws `address_not_found` for anyone else's. */
    async getAddress(customerId: string, addressId: string): Promise<Address> {
      // Not an id this store ever gave out (the batch's uuid[] would refuse it): no such address.
      const row = isUuid(addressId) && isUuid(customerId) ? await addressOf({ customerId, id: addressId }) : undefined;
      if (!row) throw customersError('address_not_found', 'no such address');
      return toAddress(row);
    },

    async deleteAddress(customerId: string, addressId: string): Promise<void> {
      if (!(await store.softDeleteAddress(db, customerId, addressId, clock.now()))) {
        throw customersError('address_not_found', 'no such address');
      }
    },

    async pruneSessions(): Promise<number> {
      return store.deleteExpiredSessions(db, clock.now());
    },
  };
}

export type CustomersService = ReturnType<typeof createCustomersService>;

function toCustomer(row: store.CustomerRow): Customer {
  return { id: row.id, kind: row.kind, email: row.email, name: row.name, createdAt: row.created_at };
}

function toAddress(row: store.AddressRow): Address {
  return {
    id: row.id,
    customerId: row.customer_id,
    recipientName: row.recipient_name,
    street: row.street,
    number: row.number,
    apartment: row.apartment,
    comuna: row.comuna,
    region: row.region,
    regionCode: row.region_code,
    phone: row.phone,
    reference: row.reference,
    createdAt: row.created_at,
  };
}
