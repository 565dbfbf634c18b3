import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ADMIT, type HttpApp, type HttpModule } from '../platform/http.js';
import { STATUSES } from './domain/attempt.js';
import type { AttemptState } from './store.js';
import type { Attempts } from './service.js';
import type { Notifications } from './notifications.js';
import type { Vault } from './vault.js';

// Processor callbacks carry fields we do not control: unknown fields are dropped, not refused.
const WebpayReturn = z.object({
  token_ws: z.string().max(128).optional(),
  TBK_TOKEN: z.string().max(128).optional(),
  TBK_ORDEN_COMPRA: z.string().max(64).optional(),
  TBK_ID_SESION: z.string().max(128).optional(),
});
const InscriptionReturn = z.object({ TBK_TOKEN: z.string().min(1).max(128) });
const MpQuery = z.object({ 'data.id': z.string().max(128).optional(), type: z.string().max(64).optional(), topic: z.string().max(64).optional() });
const AttemptParams = z.object({ attemptId: z.uuid() }).strict();
const AttemptBody = z
  .object({
    attemptId: z.string(),
    orderId: z.string(),
    amount: z.number().int(),
    currency: z.literal('CLP'),
    method: z.string(),
    processor: z.string(),
    status: z.enum(STATUSES),
    reason: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'PaymentAttempt' });

function formParser(scope: HttpApp): void {
  scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(String(body))));
  });
}

/** Where the shopper lands after the processor: the order status page they asked for. */
function landing(returnUrl: string | null, params: Record<string, string>, fallback: string): string {
  const target = returnUrl ?? fallback;
  const sep = target.includes('?') ? '&' : '?';
  return `${target}${sep}${new URLSearchParams(params).toString()}`;
}

export function paymentsRoutes(deps: { attempts: Attempts; vault: Vault; notifications: Notifications }): HttpModule {
  return async (app) => {
    await app.register(async (plain) => {
      const scope = plain.withTypeProvider<ZodTypeProvider>();
      formParser(scope);
      const webpay = async (input: z.infer<typeof WebpayReturn>) => {
        const a: AttemptState = await deps.attempts.webpayReturn(input);
        return landing(a.returnUrl, { attemptId: a.id, status: a.status }, `/payments/attempts/${a.id}`);
      };
      scope.get(
        '/payments/webpay/return',
        { config: ADMIT.always, schema: { querystring: WebpayReturn, tags: ['payments'], summary: 'Webpay return (GET)' } },
        async (req, reply) => reply.redirect(await webpay(req.query), 303),
      );
      scope.post(
        '/payments/webpay/return',
        { config: ADMIT.always, schema: { body: WebpayReturn, tags: ['payments'], summary: 'Webpay return (form POST)' } },
        async (req, reply) => reply.redirect(await webpay(req.body), 303),
      );
      const inscription = async (token: string) => {
        const r = await deps.vault.finishInscription(token);
        return landing(r.returnUrl, { inscription: r.ok ? 'ok' : 'failed', ...(r.card ? { cardId: r.card.id } : {}) }, '/');
      };
      scope.get(
        '/payments/oneclick/inscriptions/return',
        { config: ADMIT.always, schema: { querystring: InscriptionReturn, tags: ['payments'] } },
        async (req, reply) => reply.redirect(await inscription(req.query.TBK_TOKEN), 303),
      );
      scope.post(
        '/payments/oneclick/inscriptions/return',
        { config: ADMIT.always, schema: { body: InscriptionReturn, tags: ['payments'] } },
        async (req, reply) => reply.redirect(await inscription(req.body.TBK_TOKEN), 303),
      );
    });

    await app.register(async (plain) => {
      const scope = plain.withTypeProvider<ZodTypeProvider>();
      // The signature covers the raw request; the body is parsed only after it checks out.
      scope.removeContentTypeParser('application/json');
      scope.addContentTypeParser(['application/json', '*'], { parseAs: 'string' }, (_req, body, done) => done(null, String(body)));
      scope.post(
        '/webhooks/mercadopago',
        { config: ADMIT.always, schema: { querystring: MpQuery, tags: ['payments'], summary: 'Mercado Pago notifications (signed)' } },
        async (req, reply) => {
          const r = await deps.notifications.receiveMercadoPago({
            query: req.query,
            headers: req.headers,
            rawBody: typeof req.body === 'string' ? req.body : '',
          });
          return reply.code(200).send({ received: true, duplicate: r.duplicate });
        },
      );
    });

    app.get(
      '/payments/attempts/:attemptId',
      { schema: { params: AttemptParams, response: { 200: AttemptBody }, tags: ['payments'], summary: 'A payment attempt and its status' } },
      async (req) => {
        const a = await deps.attempts.getAttempt(req.params.attemptId);
        return {
          attemptId: a.attemptId,
          orderId: a.orderId,
          amount: a.amount,
          currency: a.currency,
          method: a.method,
          processor: a.processor,
          status: a.status,
          reason: a.reason,
          createdAt: a.createdAt.toISOString(),
          updatedAt: a.updatedAt.toISOString(),
        };
      },
    );
  };
}
