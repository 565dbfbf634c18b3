import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** A sealed secret: a per-record data key wrapped by a key-encryption key (KEK). */
export interface Envelope {
  kekId: string;
  /** iv(12) | tag(16) | encrypted data key(32) */
  wrappedKey: Buffer;
  /** iv(12) | tag(16) | ciphertext */
  ciphertext: Buffer;
}

const IV = 12;
const TAG = 16;

function gcmSeal(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = randomBytes(IV);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

function gcmOpen(key: Buffer, sealed: Buffer, aad: string): Buffer {
  const iv = sealed.subarray(0, IV);
  const tag = sealed.subarray(IV, IV + TAG);
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(sealed.subarray(IV + TAG)), decipher.final()]);
}

/**
 * Encrypts `secret` under a fresh AES-256-GCM data key and wraps that key with the KEK.
 * `context` (e.g. the record id) is bound as associated data, so a ciphertext cannot be
 * moved to another record.
 *
 * @example
 * const env = seal(kek, 'k1', tbkUser, cardId); open(kek, env, cardId) === tbkUser;
 */
export function seal(kek: Buffer, kekId: string, secret: string, context: string): Envelope {
  const dataKey = randomBytes(32);
  try {
    return {
      kekId,
      wrappedKey: gcmSeal(kek, dataKey, `dek:${kekId}:${context}`),
      ciphertext: gcmSeal(dataKey, Buffer.from(secret, 'utf8'), `data:${context}`),
    };
  } finally {
    dataKey.fill(0);
  }
}

export function open(kek: Buffer, envelope: Envelope, context: string): string {
  const dataKey = gcmOpen(kek, envelope.wrappedKey, `dek:${envelope.kekId}:${context}`);
  try {
    return gcmOpen(dataKey, envelope.ciphertext, `data:${context}`).toString('utf8');
  } finally {
    dataKey.fill(0);
  }
}

/** Re-wraps the data key under another KEK; the ciphertext is untouched. */
export function rewrap(oldKek: Buffer, envelope: Envelope, newKek: Buffer, newKekId: string, context: string): Envelope {
  const dataKey = gcmOpen(oldKek, envelope.wrappedKey, `dek:${envelope.kekId}:${context}`);
  try {
    return { kekId: newKekId, wrappedKey: gcmSeal(newKek, dataKey, `dek:${newKekId}:${context}`), ciphertext: envelope.ciphertext };
  } finally {
    dataKey.fill(0);
  }
}
