import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { tbkError, type SimContext } from './context.js';
import { COMMERCES, TBK_INTEGRATION_API_KEY } from './domain/transbank.js';
import { asBody } from './domain/validate.js';
import { cardFormPage, messagePage, returnFormPage, withQuery } from './pages.js';
import {
  captureTransaction,
  commitTransaction,
  createTransaction,
  openForm,
  refundTransaction,
  submitForm,
  transactionStatus,
  type FormAction,
} from './webpay.js';

export const WEBPAY = '/rswebpaytransaction/api/webpay/v1.2';
export const ONECLICK = '/rswebpaytransaction/api/oneclick/v1.2';

/** Checks Tbk-Api-Key-Id / Tbk-Api-Key-Secret; returns the commerce code. */
export function tbkAuth(req: FastifyRequest): string {
  const id = req.headers['tbk-api-key-id'];
  const secret = req.headers['tbk-api-key-secret'];
  if (typeof id !== 'string' || typeof secret !== 'string' || !COMMERCES[id] || secret !== TBK_INTEGRATION_API_KEY) {
    throw tbkError(401, 'Not Authorized');
  }
  return id;
}

const FORM_ACTIONS: readonly FormAction[] = ['pay', 'abort', 'timeout', 'error'];

/** Sends the shopper back to the merchant, GET (303) or POST (auto-submitted form). */
export function sendBack(ctx: SimContext, reply: FastifyReply, target: string, fields: Record<string, string>) {
  if (ctx.settings.returnMethod === 'GET') return reply.code(303).header('location', withQuery(target, fields)).send();
  return reply.type('text/html; charset=utf-8').send(returnFormPage(target, fields));
}

function field(req: FastifyRequest, name: string): string | undefined {
  const fromBody = asBody(req.body)[name];
  if (typeof fromBody === 'string') return fromBody;
  const fromQuery = asBody(req.query)[name];
  return typeof fromQuery === 'string' ? fromQuery : undefined;
}

/** Webpay Plus and Webpay Plus Mall REST routes plus the payment form. */
export function webpayRoutes(ctx: SimContext) {
  return (app: FastifyInstance) => {
    app.post(`${WEBPAY}/transactions`, async (req) => createTransaction(ctx, tbkAuth(req), req.body));
    app.put<{ Params: { token: string } }>(`${WEBPAY}/transactions/:token`, async (req) =>
      commitTransaction(ctx, tbkAuth(req), req.params.token),
    );
    app.get<{ Params: { token: string } }>(`${WEBPAY}/transactions/:token`, async (req) =>
      transactionStatus(ctx, tbkAuth(req), req.params.token),
    );
    app.post<{ Params: { token: string } }>(`${WEBPAY}/transactions/:token/refunds`, async (req) =>
      refundTransaction(ctx, tbkAuth(req), req.params.token, req.body),
    );
    app.put<{ Params: { token: string } }>(`${WEBPAY}/transactions/:token/capture`, async (req) =>
      captureTransaction(ctx, tbkAuth(req), req.params.token, req.body),
    );

    // The shopper's browser: the merchant POSTs (or links) token_ws here.
    const showForm = async (req: FastifyRequest, reply: FastifyReply) => {
      const token = field(req, 'token_ws') ?? '';
      const opened = await openForm(ctx, token);
      reply.type('text/html; charset=utf-8');
      if (!opened) return reply.code(404).send(messagePage('Webpay', 'Transacción no encontrada.'));
      if (!opened.usable) {
        return reply.code(410).send(messagePage('Webpay', 'La transacción expiró o ya fue procesada. Vuelva al comercio.'));
      }
      const { tx } = opened;
      const elapsed = ctx.clock.now().getTime() - Date.parse(tx.formAt ?? tx.createdAt);
      return reply.send(
        cardFormPage({
          action: '/webpayserver/pay',
          tokenField: 'token_ws',
          token,
          title: 'Webpay — Pago',
          amount: tx.amount,
          commerce: tx.commerceCode,
          timeoutMs: ctx.settings.formTimeoutMs - elapsed,
        }),
      );
    };
    app.get('/webpayserver/initTransaction', showForm);
    app.post('/webpayserver/initTransaction', showForm);

    app.post('/webpayserver/pay', async (req, reply) => {
      const token = field(req, 'token_ws') ?? '';
      const action = (field(req, 'action') ?? 'pay') as FormAction;
      if (!FORM_ACTIONS.includes(action)) return reply.code(400).type('text/html; charset=utf-8').send(messagePage('Webpay', 'Acción inválida.'));
      const cardNumber = field(req, 'card_number');
      const done = await submitForm(ctx, token, action, cardNumber === undefined ? undefined : { number: cardNumber });
      if (!done) return reply.code(410).type('text/html; charset=utf-8').send(messagePage('Webpay', 'La transacción ya fue procesada.'));
      return sendBack(ctx, reply, done.tx.returnUrl, done.shape.fields);
    });
  };
}
