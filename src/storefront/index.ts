import path from 'node:path';
import type { FastifyRequest } from 'fastify';
import type { Customer } from '../customers/index.js';
import type { HttpModule } from '../platform/http.js';
import { staticFiles } from '../platform/static.js';
import { storefrontRoutes, type CardsPort, type StorefrontSettings } from './http.js';

export type { CardsPort, StorefrontSettings } from './http.js';

/** The shop's pages (web/shop), served at `/`. */
export const SHOP_DIR = path.resolve(import.meta.dirname, '../../web/shop');

export interface StorefrontDeps {
  cards: CardsPort;
  requireCustomer: (req: FastifyRequest) => Promise<Customer>;
  settings: () => StorefrontSettings;
  /** Override the pages' directory (tests). */
  dir?: string;
}

/**
 * The storefront: the shop's pages at `/` (one HTML page with hash routes, so nothing of it
 * can shadow an API path) and the little glue its account pages need (saved cards).
 *
 * @example
 * const shop = createStorefront({ cards: payments.cards, requireCustomer: customers.requireCustomer, settings: () => ({}) });
 * modules.push(...shop.routes);
 */
export function createStorefront(deps: StorefrontDeps): { routes: HttpModule[] } {
  return {
    routes: [
      storefrontRoutes(deps),
      staticFiles({ prefix: '/', dir: deps.dir ?? SHOP_DIR, maxAge: 60 }),
    ],
  };
}
