import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AddressBody, type Customer } from '../customers/index.js';
import { ADMIT, type HttpModule } from '../platform/http.js';
import type { CartView, CheckoutResult, CheckoutService } from './checkout-service.js';
import type { IdempotentHandler } from './idempotency.js';

const Sku = z.string().trim().min(1).max(64);
const Quantity = z.number().int().min(1).max(99);
const AuthHeaders = z.object({ authorization: z.string().optional(), 'idempotency-key': z.string().optional() }).loose();
/** The storefront's device id (a first-party cookie or app install id), for fraud prevention. */
const CheckoutHeaders = AuthHeaders.extend({ 'x-device-id': z.string().max(128).optional() }).loose();
const CartParams = z.object({ cartId: z.uuid() });

const Line = z.object({ sku: z.string(), name: z.string(), quantity: z.number().int(), unitPrice: z.number().int(), lineTotal: z.number().int() });
const Totals = z.object({ subtotal: z.number().int(), shipping: z.number().int(), total: z.number().int(), currency: z.literal('CLP') });
const CartOut = z.object({
  id: z.string(), status: z.enum(['open', 'checking_out', 'checked_out']), orderId: z.string().nullable(),
  lines: z.array(Line), totals: Totals, unavailable: z.array(z.string()),
});

const Payment = z.discriminatedUnion('method', [
  z.object({ method: z.literal('oneclick'), savedCardId: z.string().min(1).max(100) }).strict(),
  z.object({ method: z.literal('webpay'), returnUrl: z.url({ protocol: /^https?$/ }).max(255).optional() }).strict(),
  z.object({ method: z.literal('mercadopago_card'), cardToken: z.string().min(1).max(200), paymentMethodId: z.string().min(1).max(50) }).strict(),
  z.object({ method: z.literal('mercadopago_cash'), paymentMethodId: z.string().min(1).max(50) }).strict(),
]);

export const CheckoutBody = z
  .object({
    addressId: z.uuid().optional(),
    address: AddressBody.optional(),
    payment: Payment,
    expectedTotal: z.number().int().min(0).optional(),
    currency: z.string().max(3).optional(),
  })
  .strict();

const CheckoutOut = z.object({
  orderId: z.string(),
  status: z.enum(['pending_payment', 'payment_failed']),
  totals: Totals,
  lines: z.array(Line),
  payment: z.object({ attemptId: z.string().nullable(), status: z.enum(['approved', 'rejected', 'pending', 'redirect', 'unknown']), reason: z.string().optional() }),
  next: z.discriminatedUnion('type', [
    z.object({ type: z.literal('redirect'), url: z.string(), token: z.string(), method: z.enum(['POST', 'GET']), field: z.string() }),
    z.object({ type: z.literal('result'), outcome: z.enum(['approved', 'rejected']), reason: z.string().optional() }),
    z.object({ type: z.literal('wait') }),
  ]),
  links: z.object({ order: z.string(), status: z.string(), events: z.string() }),
});

export interface CartRoutesDeps {
  service: CheckoutService;
  idempotent: IdempotentHandler;
  requireCustomer: (req: FastifyRequest) => Promise<Customer>;
}

const cartJson = (c: CartView) => c;
const checkoutJson = (r: CheckoutResult) => ({
  ...r,
  links: { order: `/orders/${r.orderId}`, status: `/orders/${r.orderId}/status`, events: `/orders/${r.orderId}/events` },
});

/** Cart and checkout routes. Every POST needs an Idempotency-Key. */
export function cartRoutes(deps: CartRoutesDeps): HttpModule {
  const { service, idempotent, requireCustomer } = deps;
  return (app) => {
    const tags = ['checkout'];
    app.post('/carts', { config: ADMIT.begins, schema: { tags, headers: AuthHeaders, response: { 201: CartOut } } }, async (req, reply) => {
      const customer = await requireCustomer(req);
      return idempotent(req, reply, `customer:${customer.id}`, async () => ({ status: 201, body: cartJson(await service.createCart(customer.id)) }));
    });

    app.get('/carts/:cartId', { schema: { tags, headers: AuthHeaders, params: CartParams, response: { 200: CartOut } } }, async (req) => {
      const customer = await requireCustomer(req);
      return cartJson(await service.getCart(customer.id, req.params.cartId));
    });

    app.post('/carts/:cartId/lines', {
      schema: { tags, headers: AuthHeaders, params: CartParams, body: z.object({ sku: Sku, quantity: Quantity }).strict(), response: { 200: CartOut } },
    }, async (req, reply) => {
      const customer = await requireCustomer(req);
      return idempotent(req, reply, `customer:${customer.id}`, async () => ({
        status: 200,
        body: cartJson(await service.addLine(customer.id, req.params.cartId, req.body.sku, req.body.quantity)),
      }));
    });

    app.put('/carts/:cartId/lines/:sku', {
      schema: {
        tags, headers: AuthHeaders, params: z.object({ cartId: z.uuid(), sku: Sku }),
        body: z.object({ quantity: z.number().int().min(0).max(99) }).strict(), response: { 200: CartOut },
      },
    }, async (req) => {
      const customer = await requireCustomer(req);
      return cartJson(await service.setLineQuantity(customer.id, req.params.cartId, req.params.sku, req.body.quantity));
    });

    app.delete('/carts/:cartId/lines/:sku', {
      schema: { tags, headers: AuthHeaders, params: z.object({ cartId: z.uuid(), sku: Sku }), response: { 200: CartOut } },
    }, async (req) => {
      const customer = await requireCustomer(req);
      return cartJson(await service.removeLine(customer.id, req.params.cartId, req.params.sku));
    });

    app.post('/carts/:cartId/checkout', {
      schema: { tags, headers: CheckoutHeaders, params: CartParams, body: CheckoutBody, response: { 201: CheckoutOut } },
    }, async (req, reply) => {
      const customer = await requireCustomer(req);
      const deviceId = req.headers['x-device-id'];
      return idempotent(req, reply, `customer:${customer.id}`, async () => ({
        status: 201,
        body: checkoutJson(await service.checkout(customer, req.params.cartId, req.body, { ip: req.ip, ...(typeof deviceId === 'string' ? { deviceId } : {}) })),
      }));
    });
  };
}
