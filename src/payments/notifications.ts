import type { ProcessorVerdict } from './domain/attempt.js';
import { verifyMpSignature } from './domain/mp-signature.js';
import { attemptCall, connectorFor, transaction, type Core } from './core.js';
import { paymentsError } from './errors.js';
import * as store from './store.js';
import type { Attempts } from './service.js';

export interface WebhookRequest {
  query: Record<string, string | undefined>;
  headers: Record<string, string | string[] | undefined>;
  rawBody: string;
}

const header = (h: WebhookRequest['headers'], name: string) => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * The Mercado Pago notification receiver: verify, store (deduped), answer; then fetch the
 * payment for its authoritative status and apply it. Order of arrival never matters: the
 * status is read from MP and transitions only go forward.
 */
export function createNotifications(core: Core, attempts: Attempts, secret: () => string | undefined) {
  const inflight = new Set<Promise<unknown>>();

  // No transaction is held across the call to Mercado Pago (a burst of webhooks must not pin
  // the pool); applying the status is idempotent, so processing a notification twice is safe.
  const processOne = async (provider: string, notificationId: string, resourceId: string): Promise<string> => {
    const { rows } = await core.db.query(
      'SELECT 1 FROM payment_notifications_processed WHERE provider = $1 AND notification_id = $2',
      [provider, notificationId],
    );
    if (rows.length > 0) return 'already_processed';
    const connector = connectorFor(core, 'mercadopago');
    let attempt = await store.findAttemptByRef(core.db, 'mercadopago', resourceId);
    let verdict: ProcessorVerdict;
    if (attempt) {
      verdict = await connector.status(attemptCall(core, attempt, { processorRef: resourceId }));
    } else {
      // The create answer may not be recorded yet (or was lost): MP names our attempt.
      verdict = await connector.status({
        attemptId: '',
        buyOrder: '',
        amount: 0,
        method: 'mercadopago_card',
        createdAt: core.clock.now(),
        processorRef: resourceId,
        callbackUrl: '',
        now: core.clock.now(),
      });
      const ref = verdict.data?.external_reference;
      attempt = typeof ref === 'string' ? await store.findAttempt(core.db, ref) : undefined;
    }
    if (verdict.status === 'unknown') throw new Error(`Mercado Pago did not answer for payment ${resourceId}`);
    let result = 'no_matching_attempt';
    if (attempt) {
      const state = await attempts.apply(attempt.id, { ...verdict, processorRef: resourceId }, 'notification');
      result = state.status;
    }
    await transaction(core, (tx) => store.markNotificationProcessed(tx, provider, notificationId, result));
    return result;
  };

  const track = (p: Promise<unknown>) => {
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };

  return {
    /** Verifies and stores a webhook; processing follows in the background (and in the janitor). */
    async receiveMercadoPago(req: WebhookRequest): Promise<{ accepted: boolean; duplicate: boolean }> {
      const key = secret();
      if (!key) throw paymentsError('processor_not_configured', 'Mercado Pago is not configured');
      const check = verifyMpSignature({
        signature: header(req.headers, 'x-signature'),
        requestId: header(req.headers, 'x-request-id'),
        dataId: req.query['data.id'],
        secret: key,
        now: core.clock.now(),
      });
      if (!check.ok) {
        core.counters?.invalidSignatures.inc({ reason: check.reason });
        core.logger.warn({ reason: check.reason, dataId: req.query['data.id'] }, 'mercadopago webhook with invalid signature');
        throw paymentsError('invalid_signature', 'invalid webhook signature');
      }
      let body: unknown;
      try {
        body = req.rawBody ? JSON.parse(req.rawBody) : {};
      } catch {
        body = {};
      }
      const parsed = connectorFor(core, 'mercadopago').parseNotification(req.query, body);
      if (!parsed) return { accepted: false, duplicate: false };
      // Durable before the 200: a processor told "received" does not send it again.
      const fresh = await transaction(core, (tx) => store.insertNotification(tx, { provider: 'mercadopago', ...parsed, body }));
      if (fresh) {
        track(
          processOne('mercadopago', parsed.notificationId, parsed.resourceId).catch((err: unknown) =>
            core.logger.warn({ err, notificationId: parsed.notificationId }, 'notification processing failed; the janitor retries'),
          ),
        );
      }
      return { accepted: true, duplicate: !fresh };
    },

    /** Processes stored notifications not yet applied (after a crash or a failed fetch). */
    async processPending(limit = 50): Promise<number> {
      let done = 0;
      for (const n of await store.unprocessedNotifications(core.db, limit)) {
        try {
          await processOne(n.provider, n.notificationId, n.resourceId);
          done += 1;
        } catch (err) {
          core.logger.warn({ err, notificationId: n.notificationId }, 'notification still not processed');
        }
      }
      return done;
    },

    /** Resolves when background processing started so far has finished (tests, shutdown). */
    async settle(): Promise<void> {
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
    },
  };
}

export type Notifications = ReturnType<typeof createNotifications>;
