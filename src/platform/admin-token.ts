import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

/** The header staff tools send their admin token in. */
export const ADMIN_TOKEN_HEADER = 'x-admin-token';

/** Why an admin request is refused: no token configured (routes off), or a missing/wrong token. */
export type AdminRefusal = 'admin_disabled' | 'forbidden';

/**
 * Checks `x-admin-token` against the configured staff token (EMBUDO_ADMIN_TOKEN) with a
 * constant-time compare of SHA-256 digests (equal lengths, so the token length does not leak).
 * Without a configured token every admin request is refused: admin routes are off.
 *
 * @example
 * const check = adminTokenCheck(config.adminToken);
 * app.addHook('onRequest', async (req) => { const r = check(req); if (r) throw myError(r, ...); });
 */
export function adminTokenCheck(token: string | undefined): (req: FastifyRequest) => AdminRefusal | undefined {
  const expected = token ? createHash('sha256').update(token).digest() : undefined;
  return (req) => {
    if (!expected) return 'admin_disabled';
    const given = req.headers[ADMIN_TOKEN_HEADER];
    const digest = createHash('sha256').update(typeof given === 'string' ? given : '').digest();
    return timingSafeEqual(digest, expected) ? undefined : 'forbidden';
  };
}
