// Field checks that name the offending parameter the way Transbank does
// ("Invalid value for parameter: buy_order").

export type Body = Record<string, unknown>;

export class InvalidParameter extends Error {
  constructor(readonly parameter: string) {
    super(`Invalid value for parameter: ${parameter}`);
    this.name = 'InvalidParameter';
  }
}

export function asBody(value: unknown): Body {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
  return value as Body;
}

export function text(body: Body, name: string, max: number, label = name): string {
  const v = body[name];
  if (typeof v !== 'string' || v.trim() === '' || v.length > max) throw new InvalidParameter(label);
  return v;
}

export function optionalText(body: Body, name: string, max: number): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > max) throw new InvalidParameter(name);
  return v;
}

/** A positive integer amount (CLP has no minor unit). */
export function amount(body: Body, name: string, label = name): number {
  const v = body[name];
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || v > 999_999_999) throw new InvalidParameter(label);
  return v;
}

export function optionalInt(body: Body, name: string): number | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new InvalidParameter(name);
  return v;
}

export function url(body: Body, name: string, max: number): string {
  const v = text(body, name, max);
  try {
    const u = new URL(v);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InvalidParameter(name);
  } catch {
    throw new InvalidParameter(name);
  }
  return v;
}

export function list(body: Body, name: string): Body[] {
  const v = body[name];
  if (!Array.isArray(v) || v.length === 0) throw new InvalidParameter(name);
  return v.map((item) => asBody(item));
}
