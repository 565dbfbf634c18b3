import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ADMIT, type HttpModule } from '../platform/http.js';
import { CHILE_REGIONS } from './domain/chile-regions.js';
import { customersError } from './errors.js';
import type { Address, Customer, CustomersService, NewSession } from './service.js';

/** Runs a handler under the request's Idempotency-Key (the checkout context provides it). */
export type IdempotentRunner = (
  req: FastifyRequest,
  reply: import('fastify').FastifyReply,
  scope: string,
  execute: () => Promise<{ status: number; body: unknown }>,
) => Promise<import('fastify').FastifyReply>;

const Email = z.string().trim().toLowerCase().max(254).pipe(z.email());
const Password = z.string().min(1).max(200);

export const AddressBody = z
  .object({
    recipientName: z.string().max(100),
    street: z.string().max(120),
    number: z.string().max(20),
    apartment: z.string().max(40).optional(),
    comuna: z.string().max(60),
    region: z.string().max(80),
    phone: z.string().max(20).optional(),
    reference: z.string().max(200).optional(),
  })
  .strict();

const CustomerOut = z.object({
  id: z.string(),
  kind: z.enum(['registered', 'guest']),
  email: z.string(),
  name: z.string().nullable(),
  createdAt: z.string(),
});
const SessionOut = z.object({ customer: CustomerOut, token: z.string(), expiresAt: z.string() });
export const AddressOut = z.object({
  id: z.string(),
  recipientName: z.string(),
  street: z.string(),
  number: z.string(),
  apartment: z.string().nullable(),
  comuna: z.string(),
  region: z.string(),
  regionCode: z.string(),
  phone: z.string().nullable(),
  reference: z.string().nullable(),
  createdAt: z.string(),
});

export const customerJson = (c: Customer) => ({ ...c, createdAt: c.createdAt.toISOString() });
const sessionJson = (s: NewSession) => ({ customer: customerJson(s.customer), token: s.token, expiresAt: s.expiresAt.toISOString() });
export const addressJson = (a: Address) => {
  const { customerId: _c, ...rest } = a;
  return { ...rest, createdAt: a.createdAt.toISOString() };
};

/** The bearer token of a request, if any. */
export function bearerToken(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(h);
  return m?.[1];
}

/** The customer behind the request's bearer token; throws `unauthenticated` otherwise. */
export async function requireCustomer(service: CustomersService, req: FastifyRequest): Promise<Customer> {
  const token = bearerToken(req);
  const customer = token ? await service.authenticate(token) : undefined;
  if (!customer) throw customersError('unauthenticated', 'sign in or start a guest session (Authorization: Bearer <token>)');
  return customer;
}

const AuthHeader = z.object({ authorization: z.string().optional() }).loose();

/**
 * Customer routes. Sign-up, guest and sign-in POSTs do not take an Idempotency-Key: a replay
 * would have to keep the bearer token in clear, and they are safe to repeat (a taken email is
 * a 409; each sign-in opens its own session).
 */
export function customersRoutes(service: CustomersService, idempotent: IdempotentRunner): HttpModule {
  return (app) => {
    const tags = ['customers'];
    app.post('/customers', {
      schema: { tags, body: z.object({ email: Email, password: Password, name: z.string().max(100).optional() }).strict(), response: { 201: SessionOut } },
    }, async (req, reply) => reply.code(201).send(sessionJson(await service.register(req.body))));

    app.post('/customers/guest', {
      config: ADMIT.begins,
      schema: { tags, body: z.object({ email: Email, name: z.string().max(100).optional() }).strict(), response: { 201: SessionOut } },
    }, async (req, reply) => reply.code(201).send(sessionJson(await service.guest(req.body))));

    app.post('/sessions', {
      schema: { tags, body: z.object({ email: Email, password: Password }).strict(), response: { 201: SessionOut } },
    }, async (req, reply) => reply.code(201).send(sessionJson(await service.login(req.body))));

    app.delete('/sessions/current', { schema: { tags, headers: AuthHeader } }, async (req, reply) => {
      const token = bearerToken(req);
      if (token) await service.logout(token);
      return reply.code(204).send();
    });

    app.get('/customers/me', { schema: { tags, headers: AuthHeader, response: { 200: CustomerOut } } }, async (req) =>
      customerJson(await requireCustomer(service, req)),
    );

    app.get('/customers/me/addresses', { schema: { tags, headers: AuthHeader, response: { 200: z.object({ addresses: z.array(AddressOut) }) } } }, async (req) => {
      const customer = await requireCustomer(service, req);
      return { addresses: (await service.listAddresses(customer.id)).map(addressJson) };
    });

    app.post('/customers/me/addresses', { schema: { tags, headers: AuthHeader, body: AddressBody, response: { 201: AddressOut } } }, async (req, reply) => {
      const customer = await requireCustomer(service, req);
      return idempotent(req, reply, `customer:${customer.id}`, async () => ({
        status: 201,
        body: addressJson(await service.addAddress(customer.id, req.body)),
      }));
    });

    app.delete('/customers/me/addresses/:addressId', { schema: { tags, headers: AuthHeader, params: z.object({ addressId: z.uuid() }) } }, async (req, reply) => {
      const customer = await requireCustomer(service, req);
      await service.deleteAddress(customer.id, req.params.addressId);
      return reply.code(204).send();
    });

    app.get('/geo/cl/regions', {
      schema: {
        tags,
        response: { 200: z.object({ regions: z.array(z.object({ code: z.string(), iso: z.string(), name: z.string(), comunas: z.array(z.string()) })) }) },
      },
    }, async (_req, reply) => {
      void reply.header('cache-control', 'public, max-age=86400');
      return { regions: CHILE_REGIONS.map((r) => ({ code: r.code, iso: r.iso, name: r.name, comunas: [...r.comunas] })) };
    });
  };
}
