import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SimContext } from './context.js';
import { asBody } from './domain/validate.js';
import {
  authorize,
  deleteInscription,
  finishInscription,
  oneclickCapture,
  oneclickRefund,
  oneclickStatus,
  openInscriptionForm,
  startInscription,
  submitInscription,
} from './oneclick.js';
import { cardFormPage, messagePage } from './pages.js';
import { ONECLICK, sendBack, tbkAuth } from './tbk-http.js';

function field(req: FastifyRequest, name: string): string | undefined {
  const fromBody = asBody(req.body)[name];
  if (typeof fromBody === 'string') return fromBody;
  const fromQuery = asBody(req.query)[name];
  return typeof fromQuery === 'string' ? fromQuery : undefined;
}

const ACTIONS = ['pay', 'abort', 'timeout', 'error'] as const;

/** Oneclick Mall REST routes plus the inscription page. */
export function oneclickRoutes(ctx: SimContext) {
  return (app: FastifyInstance) => {
    app.post(`${ONECLICK}/inscriptions`, async (req) => startInscription(ctx, tbkAuth(req), req.body));
    app.put<{ Params: { token: string } }>(`${ONECLICK}/inscriptions/:token`, async (req) =>
      finishInscription(ctx, tbkAuth(req), req.params.token),
    );
    app.delete(`${ONECLICK}/inscriptions`, async (req, reply) => {
      await deleteInscription(ctx, tbkAuth(req), req.body);
      return reply.code(204).send();
    });
    app.post(`${ONECLICK}/transactions`, async (req) => authorize(ctx, tbkAuth(req), req.body));
    // Registered before /transactions/:buyOrder so "capture" is not taken for a buy order.
    app.put(`${ONECLICK}/transactions/capture`, async (req) => oneclickCapture(ctx, tbkAuth(req), req.body));
    app.get<{ Params: { buyOrder: string } }>(`${ONECLICK}/transactions/:buyOrder`, async (req) =>
      oneclickStatus(ctx, tbkAuth(req), req.params.buyOrder),
    );
    app.post<{ Params: { buyOrder: string } }>(`${ONECLICK}/transactions/:buyOrder/refunds`, async (req) =>
      oneclickRefund(ctx, tbkAuth(req), req.params.buyOrder, req.body),
    );

    const showForm = async (req: FastifyRequest, reply: FastifyReply) => {
      const token = field(req, 'TBK_TOKEN') ?? '';
      const opened = await openInscriptionForm(ctx, token);
      reply.type('text/html; charset=utf-8');
      if (!opened) return reply.code(404).send(messagePage('Oneclick', 'Inscripción no encontrada.'));
      if (!opened.usable) return reply.code(410).send(messagePage('Oneclick', 'La inscripción expiró o ya fue procesada.'));
      return reply.send(
        cardFormPage({
          action: '/webpayserver/bp_inscription_submit',
          tokenField: 'TBK_TOKEN',
          token,
          title: 'Oneclick — Inscripción de tarjeta',
          commerce: opened.ins.commerceCode,
          timeoutMs: ctx.settings.formTimeoutMs - (ctx.clock.now().getTime() - Date.parse(opened.ins.createdAt)),
        }),
      );
    };
    app.get('/webpayserver/bp_multicode_inscription.cgi', showForm);
    app.post('/webpayserver/bp_multicode_inscription.cgi', showForm);

    app.post('/webpayserver/bp_inscription_submit', async (req, reply) => {
      const token = field(req, 'TBK_TOKEN') ?? '';
      const action = (field(req, 'action') ?? 'pay') as (typeof ACTIONS)[number];
      if (!ACTIONS.includes(action)) return reply.code(400).type('text/html; charset=utf-8').send(messagePage('Oneclick', 'Acción inválida.'));
      const ins = await submitInscription(ctx, token, action, field(req, 'card_number'));
      if (!ins) return reply.code(410).type('text/html; charset=utf-8').send(messagePage('Oneclick', 'La inscripción ya fue procesada.'));
      // Oneclick hands back only the token; finish() tells the merchant what happened.
      return sendBack(ctx, reply, ins.responseUrl, { TBK_TOKEN: ins.token });
    });
  };
}
