import { createHash, randomBytes, randomUUID, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { Clock } from '../platform/clock.js';
import type { Db } from '../platform/db.js';
import { ROLES, type BiRole } from './domain/roles.js';
import { biError } from './errors.js';

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number, options: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;
// OWASP's scrypt floor (N=2^17, r=8, p=1) costs ~128 MiB and ~0.3 s; 2^15 keeps logins fast on a shared box.
const PARAMS = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const SESSION_HOURS = 12;

export interface BiUser {
  id: string;
  username: string;
  roles: BiRole[];
  disabled: boolean;
  createdAt: string;
}

/** `scrypt$N$r$p$salt$hash`, base64url parts. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password.normalize('NFKC'), salt, 32, PARAMS);
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [alg, n, r, p, salt, hash] = stored.split('$');
  if (alg !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await scryptAsync(password.normalize('NFKC'), Buffer.from(salt, 'base64url'), expected.length,
    { N: Number(n), r: Number(r), p: Number(p), maxmem: 256 * 1024 * 1024 });
  return timingSafeEqual(key, expected);
}

export function checkPassword(password: string): void {
  if (password.length < 12) throw biError('weak_password', 'passwords need at least 12 characters');
}

function checkRoles(roles: readonly string[]): BiRole[] {
  const bad = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
  if (roles.length === 0 || bad.length > 0) throw biError('invalid_roles', `roles must be some of ${ROLES.join(', ')}`, { invalid: bad });
  return [...new Set(roles)] as BiRole[];
}

const tokenHash = (token: string) => createHash('sha256').update(token).digest();

type UserRow = { id: string; username: string; roles: BiRole[]; disabled: boolean; created_at: Date; password_hash: string };
const view = (r: UserRow): BiUser => ({ id: r.id, username: r.username, roles: r.roles, disabled: r.disabled, createdAt: r.created_at.toISOString() });

/** Users, password logins and cookie sessions (only a SHA-256 of the session token is stored). */
export function createAuth(db: Db, clock: Clock) {
  // A fixed dummy hash so unknown usernames cost the same as wrong passwords.
  let dummy: Promise<string> | undefined;

  return {
    async createUser(input: { username: string; password: string; roles: readonly string[] }, createdBy: string | null): Promise<BiUser> {
      checkPassword(input.password);
      const roles = checkRoles(input.roles);
      const username = input.username.toLowerCase();
      if (!/^[a-z0-9._-]{2,64}$/.test(username)) throw biError('invalid_roles', 'usernames are 2-64 of a-z 0-9 . _ -');
      const hash = await hashPassword(input.password);
      const res = await db.query<UserRow>(
        `INSERT INTO bi_users (id, username, password_hash, roles, created_by) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (username) DO NOTHING RETURNING *`, [randomUUID(), username, hash, roles, createdBy]);
      const row = res.rows[0];
      if (!row) throw biError('username_taken', `user ${username} exists`);
      return view(row);
    },

    async setRoles(username: string, roles: readonly string[]): Promise<BiUser> {
      const res = await db.query<UserRow>(`UPDATE bi_users SET roles = $2 WHERE username = $1 RETURNING *`, [username, checkRoles(roles)]);
      const row = res.rows[0];
      if (!row) throw biError('unknown_user', `no user ${username}`);
      return view(row);
    },

    async setDisabled(username: string, disabled: boolean): Promise<BiUser> {
      const res = await db.query<UserRow>(`UPDATE bi_users SET disabled = $2 WHERE username = $1 RETURNING *`, [username, disabled]);
      const row = res.rows[0];
      if (!row) throw biError('unknown_user', `no user ${username}`);
      if (disabled) await db.query(`DELETE FROM bi_sessions WHERE user_id = $1`, [row.id]);
      return view(row);
    },

    async listUsers(): Promise<BiUser[]> {
      return (await db.query<UserRow>(`SELECT * FROM bi_users ORDER BY username`)).rows.map(view);
    },

    /** Returns a new session token for valid credentials. */
    async login(username: string, password: string): Promise<{ token: string; user: BiUser }> {
      const res = await db.query<UserRow>(`SELECT * FROM bi_users WHERE username = $1`, [username.toLowerCase()]);
      const row = res.rows[0];
      const ok = row ? await verifyPassword(password, row.password_hash) : await verifyPassword(password, await (dummy ??= hashPassword(randomUUID())));
      if (!row || !ok || row.disabled) throw biError('bad_credentials', 'wrong username or password');
      const token = randomBytes(32).toString('base64url');
      const expires = new Date(clock.now().getTime() + SESSION_HOURS * 3_600_000);
      await db.query(`INSERT INTO bi_sessions (token_hash, user_id, expires_at) VALUES ($1, $2, $3)`, [tokenHash(token), row.id, expires]);
      return { token, user: view(row) };
    },

    async session(token: string | undefined): Promise<BiUser | undefined> {
      if (!token || token.length > 100) return undefined;
      const res = await db.query<UserRow>(
        `SELECT u.* FROM bi_sessions s JOIN bi_users u ON u.id = s.user_id
          WHERE s.token_hash = $1 AND s.expires_at > $2 AND NOT u.disabled`, [tokenHash(token), clock.now()]);
      return res.rows[0] ? view(res.rows[0]) : undefined;
    },

    async logout(token: string): Promise<void> {
      await db.query(`DELETE FROM bi_sessions WHERE token_hash = $1 OR expires_at < $2`, [tokenHash(token), clock.now()]);
    },

    /**
     * First run: when there is no user at all, creates `admin` with a generated password and
     * returns it (to be printed once). Never a default password.
     */
    async ensureAdmin(): Promise<{ username: string; password: string } | undefined> {
      const any = await db.query(`SELECT 1 FROM bi_users LIMIT 1`);
      if (any.rowCount) return undefined;
      const password = randomBytes(18).toString('base64url');
      const hash = await hashPassword(password);
      const res = await db.query(`INSERT INTO bi_users (id, username, password_hash, roles, created_by)
        SELECT $1, 'admin', $2, ARRAY['admin']::text[], 'first-run' WHERE NOT EXISTS (SELECT 1 FROM bi_users)`, [randomUUID(), hash]);
      return res.rowCount ? { username: 'admin', password } : undefined;
    },
  };
}
export type Auth = ReturnType<typeof createAuth>;
