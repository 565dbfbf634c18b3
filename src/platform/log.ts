import pino from 'pino';

export type Logger = pino.Logger;

// Fields that may carry card data or credentials are never written out (PCI DSS 3.3/3.4).
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["tbk-api-key-secret"]',
  '*.card_number',
  '*.pan',
  '*.cvv',
  '*.password',
  '*.tbk_user',
  '*.secret',
];

/** JSON logs (pino) with secrets and card data redacted. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' } }, destination);
}
