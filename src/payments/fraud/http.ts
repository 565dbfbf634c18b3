import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { HttpModule } from '../../platform/http.js';
import { paymentsError } from '../errors.js';
import type { Fraud } from './service.js';

const Review = z.object({
  id: z.string(), orderId: z.string(), paymentAttemptId: z.string().nullable(), amount: z.number().int(), currency: z.string(),
  score: z.number().int(), reasons: z.array(z.string()), status: z.enum(['open', 'approved', 'rejected']),
  createdAt: z.string(), decidedAt: z.string().nullable(), reviewer: z.string().nullable(),
});
const ReportRow = z.object({
  rule: z.string(), hits: z.number().int(), blocked: z.number().int(), chargebacks: z.number().int(), precision: z.number(), recall: z.number(),
});
const RuleSetOut = z.object({ version: z.number().int(), createdAt: z.string(), createdBy: z.string(), note: z.string().nullable(), ruleSet: z.unknown() });

/**
 * Staff routes of fraud prevention, behind the same `x-admin-token` (EMBUDO_ADMIN_TOKEN) as
 * checkout's admin routes: the rules (read, new version), the review queue and the report.
 */
export function fraudAdminRoutes(fraud: Fraud, adminToken: string | undefined): HttpModule {
  const adminDigest = adminToken ? createHash('sha256').update(adminToken).digest() : undefined;
  const requireAdmin = (req: FastifyRequest) => {
    if (!adminDigest) throw paymentsError('admin_disabled', 'admin routes are disabled (no admin token configured)');
    const given = req.headers['x-admin-token'];
    const digest = createHash('sha256').update(typeof given === 'string' ? given : '').digest();
    if (!timingSafeEqual(digest, adminDigest)) throw paymentsError('forbidden', 'a valid x-admin-token is required');
  };
  return (app) => {
    const tags = ['fraud'];
    app.get('/admin/fraud/rules', { schema: { tags, response: { 200: RuleSetOut } } }, async (req) => {
      requireAdmin(req);
      return fraud.rules.current();
    });

    app.put('/admin/fraud/rules', {
      schema: {
        tags,
        // The rule set itself is validated by the fraud service (its errors name each rule's path).
        body: z.object({ ruleSet: z.unknown(), author: z.string().min(1).max(200), note: z.string().max(500).optional() }).strict(),
        response: { 201: RuleSetOut },
      },
    }, async (req, reply) => {
      requireAdmin(req);
      const v = await fraud.rules.update(req.body.ruleSet, req.body.author, req.body.note);
      return reply.code(201).send(v);
    });

    app.get('/admin/fraud/rules/versions', {
      schema: {
        tags, querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }).strict(),
        response: { 200: z.object({ versions: z.array(z.object({ version: z.number().int(), createdAt: z.date(), createdBy: z.string(), note: z.string().nullable(), rules: z.number().int() })) }) },
      },
    }, async (req) => {
      requireAdmin(req);
      return { versions: await fraud.rules.versions(req.query.limit) };
    });

    app.get('/admin/fraud/reviews', {
      schema: {
        tags,
        querystring: z.object({ status: z.enum(['open', 'approved', 'rejected']).optional(), limit: z.coerce.number().int().min(1).max(1000).default(100) }).strict(),
        response: { 200: z.object({ reviews: z.array(Review) }) },
      },
    }, async (req) => {
      requireAdmin(req);
      return { reviews: await fraud.reviews.list({ ...(req.query.status ? { status: req.query.status } : {}), limit: req.query.limit }) };
    });

    app.post('/admin/fraud/reviews/:reviewId/decision', {
      schema: {
        tags, params: z.object({ reviewId: z.uuid() }),
        body: z.object({ outcome: z.enum(['approve', 'reject']), reviewer: z.string().min(1).max(200), note: z.string().max(1000).optional() }).strict(),
        response: { 200: Review },
      },
    }, async (req) => {
      requireAdmin(req);
      return fraud.reviews.decide(req.params.reviewId, { outcome: req.body.outcome, reviewer: req.body.reviewer, ...(req.body.note ? { note: req.body.note } : {}) });
    });

    app.get('/admin/fraud/report', { schema: { tags, response: { 200: z.object({ rules: z.array(ReportRow) }) } } }, async (req) => {
      requireAdmin(req);
      return { rules: await fraud.report() };
    });
  };
}
