import { Writable } from 'node:stream';
import { loadConfig, type Config } from '../../src/platform/config.js';
import { createLogger, type Logger } from '../../src/platform/log.js';

/** A config for tests: the given database, no listening socket, quiet logs. */
export function testConfig(databaseUrl: string, overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent', PORT: '0', EMBUDO_NO_SIM: '1', EMBUDO_SEED_HISTORY_DAYS: '0' }), ...overrides };
}

/** A logger whose lines tests can read (e.g. to prove a secret never reaches the logs). */
export function capturingLogger(level = 'info'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  return { logger: createLogger(level, sink), lines };
}
