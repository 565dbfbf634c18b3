import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Customer } from '../customers/index.js';
import type { HttpModule } from '../platform/http.js';
import type { InscriptionStart, SavedCard } from '../payments/index.js';

/** The saved-card operations of the payments context the shop's account pages need. */
export interface CardsPort {
  startInscription(input: { customerId: string; email: string; returnUrl?: string }): Promise<InscriptionStart>;
  list(customerId: string): Promise<SavedCard[]>;
  delete(customerId: string, cardId: string): Promise<void>;
}

/** What the browser needs to know about the processors (never a secret). */
export interface StorefrontSettings {
  /** Where MP.js-style card tokenization goes (the processor, never us: the PAN skips our servers). */
  mercadoPago?: { baseUrl: string; publicKey: string } | undefined;
  /** Delivery fee per región code (CUT), free from `freeFrom` pesos of subtotal. */
  shipping?: { freeFrom: number; fees: Record<string, number> } | undefined;
}

const Auth = z.object({ authorization: z.string().optional() }).loose();
const CardOut = z.object({ id: z.string(), cardType: z.string(), cardMask: z.string(), createdAt: z.string() });
const cardJson = (c: SavedCard) => ({ id: c.id, cardType: c.cardType, cardMask: c.cardMask, createdAt: c.createdAt.toISOString() });

/**
 * The account routes behind the shop's "saved cards" page: the signed-in customer's Oneclick
 * cards (list, enrol through the processor's page, delete), plus the shop's public settings.
 */
export function storefrontRoutes(deps: {
  cards: CardsPort;
  requireCustomer: (req: FastifyRequest) => Promise<Customer>;
  settings: () => StorefrontSettings;
}): HttpModule {
  return (app) => {
    const tags = ['storefront'];
    app.get('/customers/me/cards', { schema: { tags, headers: Auth, response: { 200: z.object({ cards: z.array(CardOut) }) } } }, async (req) => {
      const customer = await deps.requireCustomer(req);
      return { cards: (await deps.cards.list(customer.id)).map(cardJson) };
    });

    app.post('/customers/me/cards/inscriptions', {
      schema: {
        tags,
        headers: Auth,
        description: 'Starts a Oneclick inscription: POST `TBK_TOKEN`=token to url; the processor sends the shopper back to returnUrl.',
        body: z.object({ returnUrl: z.url({ protocol: /^https?$/ }).max(255).optional() }).strict(),
        response: { 201: z.object({ token: z.string(), url: z.string(), method: z.literal('POST'), field: z.literal('TBK_TOKEN') }) },
      },
    }, async (req, reply) => {
      const customer = await deps.requireCustomer(req);
      const start = await deps.cards.startInscription({
        customerId: customer.id, email: customer.email, ...(req.body.returnUrl ? { returnUrl: req.body.returnUrl } : {}),
      });
      return reply.code(201).send(start);
    });

    app.delete('/customers/me/cards/:cardId', { schema: { tags, headers: Auth, params: z.object({ cardId: z.uuid() }).strict() } }, async (req, reply) => {
      const customer = await deps.requireCustomer(req);
      await deps.cards.delete(customer.id, req.params.cardId);
      return reply.code(204).send();
    });

    app.get('/storefront/settings', {
      schema: {
        tags,
        response: {
          200: z.object({
            mercadoPago: z.object({ baseUrl: z.string(), publicKey: z.string() }).nullable(),
            shipping: z.object({ freeFrom: z.number().int(), fees: z.record(z.string(), z.number().int()) }).nullable(),
          }),
        },
      },
    }, async () => {
      const s = deps.settings();
      return { mercadoPago: s.mercadoPago ?? null, shipping: s.shipping ?? null };
    });
  };
}
