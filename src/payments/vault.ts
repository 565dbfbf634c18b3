import { createHash, randomUUID } from 'node:crypto';
import { appendEvents } from '../events/index.js';
import { open, rewrap, seal } from './domain/envelope.js';
import type { TransbankInscriptions } from './connectors/transbank.js';
import { ProcessorCallError } from './connectors/port.js';
import { transaction, type Core } from './core.js';
import { paymentsError } from './errors.js';
import { paymentsEvent } from './events.js';
import type { Keyring } from './keyring.js';
import * as store from './store.js';

/** A saved card as anyone outside the vault sees it: never the token. */
export interface SavedCard {
  id: string;
  cardType: string;
  cardMask: string;
  createdAt: Date;
}

export interface InscriptionStart {
  token: string;
  url: string;
  method: 'POST';
  field: 'TBK_TOKEN';
}

export interface VaultDeps {
  core: Core;
  inscriptions: TransbankInscriptions | undefined;
  keyring: () => Keyring | undefined;
}

/** The Oneclick username for a customer: stable, ≤ 40 chars, no personal data. */
export function usernameFor(customerId: string): string {
  return `emb-${createHash('sha256').update(customerId).digest('hex').slice(0, 32)}`;
}

/**
 * The card vault: Oneclick inscriptions whose `tbk_user` is sealed with a per-record data key
 * wrapped by the key-encryption key (see domain/envelope.ts).
 */
export function createVault(deps: VaultDeps) {
  const { core } = deps;
  const keys = (): Keyring => {
    const k = deps.keyring();
    if (!k) throw paymentsError('vault_unavailable', 'no key-encryption key configured (EMBUDO_KEK or key file)');
    return k;
  };
  const tbk = (): TransbankInscriptions => {
    if (!deps.inscriptions) throw paymentsError('processor_not_configured', 'Transbank is not configured');
    return deps.inscriptions;
  };
  const inscriptionReturnUrl = () => `${core.publicUrl().replace(/\/$/, '')}/payments/oneclick/inscriptions/return`;

  return {
    async startInscription(input: { customerId: string; email: string; returnUrl?: string | undefined }): Promise<InscriptionStart> {
      keys();
      const username = usernameFor(input.customerId);
      let started: { token: string; url: string };
      try {
        started = await tbk().startInscription(username, input.email, inscriptionReturnUrl());
      } catch (err) {
        if (err instanceof ProcessorCallError && err.definite) throw paymentsError('invalid_payment_request', `Transbank refused the inscription: ${err.message}`);
        throw paymentsError('processor_unavailable', 'Transbank did not answer the inscription request');
      }
      await store.insertPendingInscription(core.db, { token: started.token, customerId: input.customerId, username, returnUrl: input.returnUrl });
      return { token: started.token, url: started.url, method: 'POST', field: 'TBK_TOKEN' };
    },

    /** Completes an inscription once (the shopper came back with TBK_TOKEN). */
    async finishInscription(token: string): Promise<{ ok: boolean; card?: SavedCard; reason?: string; returnUrl: string | null; customerId: string }> {
      const kr = keys();
      return transaction(core, async (tx) => {
        const pending = await store.takePendingInscription(tx, token);
        if (!pending) throw paymentsError('inscription_not_found', 'no pending inscription for that token');
        let result: Awaited<ReturnType<TransbankInscriptions['finishInscription']>>;
        try {
          result = await tbk().finishInscription(token);
        } catch (err) {
          const reason = err instanceof ProcessorCallError && err.definite ? 'inscription_refused' : 'processor_unavailable';
          return { ok: false, reason, returnUrl: pending.returnUrl, customerId: pending.customerId };
        }
        if (!result.ok) return { ok: false, reason: result.reason, returnUrl: pending.returnUrl, customerId: pending.customerId };
        const id = randomUUID();
        const envelope = seal(kr.current(), kr.currentId, result.tbkUser, id);
        const card: store.SavedCardRow = {
          id,
          customerId: pending.customerId,
          username: pending.username,
          cardType: result.cardType,
          cardMask: result.cardMask,
          createdAt: core.clock.now(),
          ...envelope,
        };
        await store.insertCard(tx, card);
        await appendEvents(tx, [
          paymentsEvent('payments.card_saved', { type: 'saved_card', id }, { customerId: card.customerId, cardId: id, cardType: card.cardType, cardMask: card.cardMask }),
        ]);
        return { ok: true, card: view(card), returnUrl: pending.returnUrl, customerId: pending.customerId };
      });
    },

    async listCards(customerId: string): Promise<SavedCard[]> {
      return (await store.cardsFor(core.db, customerId)).map(view);
    },

    /** Deletes the inscription at Transbank, then our record. */
    async deleteCard(customerId: string, cardId: string): Promise<void> {
      const card = await store.findCard(core.db, customerId, cardId);
      if (!card) throw paymentsError('saved_card_not_found', 'no such saved card');
      const tbkUser = reveal(keys(), card);
      try {
        await tbk().deleteInscription(tbkUser, card.username);
      } catch (err) {
        // 404/422: Transbank no longer knows it; anything else: keep the card, try again later.
        if (!(err instanceof ProcessorCallError && err.definite)) throw paymentsError('processor_unavailable', 'Transbank did not answer the deletion');
      }
      await transaction(core, async (tx) => {
        await store.deleteCard(tx, cardId);
        await appendEvents(tx, [paymentsEvent('payments.card_deleted', { type: 'saved_card', id: cardId }, { customerId, cardId })]);
      });
    },

    /** For a charge only: the decrypted inscription, never returned to callers outside payments. */
    async inscriptionFor(customerId: string, cardId: string): Promise<{ username: string; tbkUser: string }> {
      const card = await store.findCard(core.db, customerId, cardId);
      if (!card) throw paymentsError('saved_card_not_found', 'no such saved card for this customer');
      return { username: card.username, tbkUser: reveal(keys(), card) };
    },

    /** The decrypted inscription of a card row already read (the attempt writer reads cards in its batch). */
    inscriptionOf(card: store.SavedCardRow): { username: string; tbkUser: string } {
      return { username: card.username, tbkUser: reveal(keys(), card) };
    },

    /** Re-wraps every data key under the current KEK; returns how many changed. */
    async rewrapAll(): Promise<{ rewrapped: number; keysInUse: string[] }> {
      const kr = keys();
      let rewrapped = 0;
      for (const card of await store.allCards(core.db)) {
        if (card.kekId === kr.currentId) continue;
        const old = kr.get(card.kekId);
        if (!old) throw paymentsError('vault_unavailable', `key ${card.kekId} is not in the keyring`);
        const next = rewrap(old, card, kr.current(), kr.currentId, card.id);
        await transaction(core, (tx) => store.updateCardWrap(tx, card.id, next.kekId, next.wrappedKey));
        rewrapped += 1;
      }
      const keysInUse = [...new Set((await store.allCards(core.db)).map((c) => c.kekId))];
      return { rewrapped, keysInUse };
    },
  };
}

function reveal(kr: Keyring, card: store.SavedCardRow): string {
  const kek = kr.get(card.kekId);
  if (!kek) throw paymentsError('vault_unavailable', `key ${card.kekId} is not in the keyring`);
  return open(kek, card, card.id);
}

function view(c: store.SavedCardRow): SavedCard {
  return { id: c.id, cardType: c.cardType, cardMask: c.cardMask, createdAt: c.createdAt };
}

export type Vault = ReturnType<typeof createVault>;
