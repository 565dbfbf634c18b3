/** The platform-wide kinds every context's error codes map to. */
export type ErrorKind =
  | 'invalid'
  | 'not_found'
  | 'conflict'
  | 'unauthorized'
  | 'forbidden'
  | 'payment_failed'
  | 'unavailable'
  | 'too_large'
  | 'unsupported_media'
  | 'rate_limited';

/**
 * An expected failure with a machine-readable code. Each context declares its codes as a
 * closed union and builds errors through `defineErrors`.
 */
export class AppError<C extends string = string> extends Error {
  constructor(
    readonly code: C,
    readonly kind: ErrorKind,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

/**
 * Declares a context's error catalogue: each code with its kind. Returns a typed factory.
 *
 * @example
 * const fail = defineErrors({ insufficient_stock: 'conflict', unknown_sku: 'not_found' });
 * throw fail('insufficient_stock', 'only 2 left', { available: 2 });
 */
export function defineErrors<const M extends Record<string, ErrorKind>>(catalogue: M) {
  return (code: keyof M & string, message: string, details?: Record<string, unknown>) =>
    new AppError(code, catalogue[code] as ErrorKind, message, details);
}

/** The one place that maps error kinds to HTTP statuses. */
export function httpStatus(kind: ErrorKind): number {
  switch (kind) {
    case 'invalid':
      return 400;
    case 'unauthorized':
      return 401;
    case 'payment_failed':
      return 402;
    case 'forbidden':
      return 403;
    case 'not_found':
      return 404;
    case 'conflict':
      return 409;
    case 'too_large':
      return 413;
    case 'unsupported_media':
      return 415;
    case 'rate_limited':
      return 429;
    case 'unavailable':
      return 503;
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/** Errors every context may raise at the edge. */
export const platformError = defineErrors({
  invalid_request: 'invalid',
  invalid_json: 'invalid',
  unsupported_media_type: 'unsupported_media',
  payload_too_large: 'too_large',
  route_not_found: 'not_found',
  method_not_allowed: 'invalid',
  idempotency_mismatch: 'invalid',
  unavailable: 'unavailable',
  overloaded: 'unavailable',
  unauthorized: 'unauthorized',
  forbidden: 'forbidden',
  admin_disabled: 'forbidden',
});
