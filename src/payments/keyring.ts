import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Key-encryption keys by id; `current` wraps new data keys, the others only unwrap. */
export interface Keyring {
  currentId: string;
  get(id: string): Buffer | undefined;
  current(): Buffer;
  ids(): string[];
}

interface KeyFile {
  current: string;
  keys: Record<string, string>;
}

export const KEY_FILE = 'payments-kek.json';

export function keyId(key: Buffer): string {
  return `k-${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
}

function decodeKey(text: string): Buffer {
  const key = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (key.length !== 32) throw new Error('a key-encryption key must be 32 bytes (base64)');
  return key;
}

function fromMap(currentId: string, keys: Map<string, Buffer>): Keyring {
  return {
    currentId,
    get: (id) => keys.get(id),
    current: () => keys.get(currentId) as Buffer,
    ids: () => [...keys.keys()],
  };
}

export interface KeyringSource {
  /** EMBUDO_KEK: when set it is the current key. */
  kek?: string | undefined;
  /** Older keys still able to unwrap (EMBUDO_KEK_PREVIOUS, comma-separated). */
  previous?: string[] | undefined;
  dataDir: string;
  /** Create the key file when nothing is configured (embedded first start). */
  createIfMissing: boolean;
}

function readKeyFile(file: string): KeyFile | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as KeyFile;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function writeKeyFile(file: string, content: KeyFile): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(content, null, 2), { mode: 0o600 });
  renameSync(tmp, file);
}

/**
 * Loads the KEKs: EMBUDO_KEK (plus EMBUDO_KEK_PREVIOUS) when configured, else the key file
 * under the data dir, generated on first embedded start. Returns undefined when neither
 * exists and creation is not allowed (server mode without a key).
 */
export function loadKeyring(source: KeyringSource): Keyring | undefined {
  const keys = new Map<string, Buffer>();
  const file = path.join(source.dataDir, KEY_FILE);
  const stored = readKeyFile(file);
  for (const text of Object.values(stored?.keys ?? {})) {
    const k = decodeKey(text);
    keys.set(keyId(k), k);
  }
  for (const text of source.previous ?? []) {
    const k = decodeKey(text);
    keys.set(keyId(k), k);
  }
  if (source.kek) {
    const k = decodeKey(source.kek);
    keys.set(keyId(k), k);
    return fromMap(keyId(k), keys);
  }
  if (stored) return fromMap(stored.current, keys);
  if (!source.createIfMissing) return undefined;
  const k = randomBytes(32);
  writeKeyFile(file, { current: keyId(k), keys: { [keyId(k)]: k.toString('base64') } });
  keys.set(keyId(k), k);
  return fromMap(keyId(k), keys);
}

/** Adds a fresh key to the key file and makes it current (rotation, file mode). */
export function addFileKey(dataDir: string): string {
  const file = path.join(dataDir, KEY_FILE);
  const stored = readKeyFile(file) ?? { current: '', keys: {} };
  const k = randomBytes(32);
  const id = keyId(k);
  writeKeyFile(file, { current: id, keys: { ...stored.keys, [id]: k.toString('base64') } });
  return id;
}

/** Drops keys no record uses any more from the key file. */
export function retireFileKeys(dataDir: string, keep: string[]): void {
  const file = path.join(dataDir, KEY_FILE);
  const stored = readKeyFile(file);
  if (!stored) return;
  const keys = Object.fromEntries(Object.entries(stored.keys).filter(([id]) => id === stored.current || keep.includes(id)));
  writeKeyFile(file, { current: stored.current, keys });
}
