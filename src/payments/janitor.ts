import { isFinal, nextCheckDelay } from './domain/attempt.js';
import { applyVerdict, attemptCall, connectorFor, transaction, type Core } from './core.js';
import type { Notifications } from './notifications.js';
import * as store from './store.js';
import type { AttemptState } from './store.js';

export interface JanitorItem {
  attemptId: string;
  before: string;
  after: string;
  error?: string;
}

type CheckResult = JanitorItem & { duplicate?: AttemptState };

/**
 * The janitor asks the processor about attempts still unresolved (created but unanswered,
 * unknown after a timeout, redirect with a lost return, pending cash) on a backoff schedule,
 * and flags them for review once the processor stops answering for them (7 days Transbank).
 * Each due check is claimed with FOR UPDATE SKIP LOCKED, so any number of processes share
 * the work without doing the same check twice.
 */
export function createJanitor(
  core: Core,
  notifications: Notifications,
  giveBack: (a: AttemptState) => Promise<void>,
  resolveRefunds: () => Promise<unknown>,
) {
  const checkOne = async (): Promise<CheckResult | undefined> =>
    transaction(core, async (tx) => {
      const now = core.clock.now();
      const due = await store.claimDueCheck(tx, now);
      if (!due) return undefined;
      const a = await store.findAttempt(tx, due.attemptId);
      if (!a || isFinal(a.status) || a.status === 'review') {
        await store.unschedule(tx, due.attemptId);
        return { attemptId: due.attemptId, before: a?.status ?? 'missing', after: a?.status ?? 'missing' };
      }
      if (now >= due.giveUpAt) {
        const applied = await applyVerdict(core, tx, a.id, { status: 'review', reason: 'janitor_gave_up' }, 'janitor_review');
        return { attemptId: a.id, before: a.status, after: applied.state.status };
      }
      try {
        const verdict = await connectorFor(core, a.processor).status(attemptCall(core, a));
        const applied = await applyVerdict(core, tx, a.id, verdict, 'janitor_status');
        if (!isFinal(applied.state.status)) await store.reschedule(tx, a.id, new Date(now.getTime() + nextCheckDelay(due.checks + 1)));
        return { attemptId: a.id, before: a.status, after: applied.state.status, ...(applied.duplicateCharge ? { duplicate: applied.state } : {}) };
      } catch (err) {
        await store.reschedule(tx, a.id, new Date(now.getTime() + nextCheckDelay(due.checks + 1)));
        return { attemptId: a.id, before: a.status, after: a.status, error: err instanceof Error ? err.message : String(err) };
      }
    });


  return {
    /** One pass: due checks (up to `limit`) and stored notifications not yet applied. */
    async runOnce(limit = 50): Promise<JanitorItem[]> {
      const items: JanitorItem[] = [];
      for (let i = 0; i < limit; i++) {
        const checked = await checkOne();
        if (!checked) break;
        const { duplicate, ...item } = checked;
        // A second approval for an already paid order: give the money back at once.
        if (duplicate) await giveBack(duplicate);
        items.push(item);
        core.counters?.janitorChecks.inc({ result: item.error ? 'error' : item.before === item.after ? 'unchanged' : item.after });
        if (item.error) core.logger.warn({ attemptId: item.attemptId, error: item.error }, 'janitor check failed');
      }
      await notifications.processPending(limit);
      await resolveRefunds();
      return items;
    },
  };
}

export type Janitor = ReturnType<typeof createJanitor>;
