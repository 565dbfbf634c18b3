import { CHILE_REGIONS, findComuna, findRegion, regionsOfComuna } from './chile-regions.js';

/** A delivery address as a customer types it. */
export interface AddressInput {
  recipientName: string;
  street: string;
  number: string;
  apartment?: string | undefined;
  comuna: string;
  region: string;
  phone?: string | undefined;
  reference?: string | undefined;
}

/** A validated Chilean address: comuna and región are the official names. */
export interface DeliveryAddress {
  recipientName: string;
  street: string;
  number: string;
  apartment: string | null;
  comuna: string;
  region: string;
  /** The región's CUT code, e.g. '13' for Metropolitana. */
  regionCode: string;
  phone: string | null;
  reference: string | null;
}

export type AddressProblem = { field: keyof AddressInput; problem: string; suggestion?: string[] };

// House numbers in Chile: digits with an optional letter or suffix ("1234", "56-B", "S/N").
const NUMBER = /^(\d{1,6}([ -]?[A-Za-z0-9]{1,4})?|s\/n)$/i;
// +56 followed by 9 digits (mobile 9XXXXXXXX or landline with area code), spaces allowed.
const PHONE = /^\+?56\s?\d(\s?\d){8}$/;

/**
 * Validates a delivery address against Chile's regions and comunas. Returns the normalized
 * address, or every problem found.
 *
 * @example
 * validateAddress({ recipientName: 'Ana', street: 'Av. Providencia', number: '1234',
 *   comuna: 'nunoa', region: 'RM' }) // → { ok: true, address: { comuna: 'Ñuñoa', region: 'Metropolitana de Santiago', ... } }
 */
export function validateAddress(input: AddressInput):
  | { ok: true; address: DeliveryAddress }
  | { ok: false; problems: AddressProblem[] } {
  const problems: AddressProblem[] = [];
  const text = (v: string | undefined) => (v ?? '').replace(/\s+/g, ' ').trim();
  const recipientName = text(input.recipientName);
  const street = text(input.street);
  const number = text(input.number);
  if (recipientName.length < 2) problems.push({ field: 'recipientName', problem: 'the recipient name is required' });
  if (street.length < 2) problems.push({ field: 'street', problem: 'the street is required' });
  if (!NUMBER.test(number)) problems.push({ field: 'number', problem: 'the house number must be digits (with an optional suffix) or S/N' });
  const phone = text(input.phone) || null;
  if (phone !== null && !PHONE.test(phone)) problems.push({ field: 'phone', problem: 'the phone must be a Chilean number, +56 and 9 digits' });

  const region = findRegion(input.region);
  let comuna: string | undefined;
  if (!region) {
    problems.push({ field: 'region', problem: 'unknown región', suggestion: regionsOfComuna(input.comuna).map((r) => r.name) });
  } else {
    comuna = findComuna(region, input.comuna);
    if (!comuna) {
      const elsewhere = regionsOfComuna(input.comuna).map((r) => r.name);
      problems.push({
        field: 'comuna',
        problem: elsewhere.length > 0 ? `the comuna is not in ${region.name}` : `unknown comuna in ${region.name}`,
        ...(elsewhere.length > 0 ? { suggestion: elsewhere } : {}),
      });
    }
  }
  if (problems.length > 0 || !region || !comuna) return { ok: false, problems };
  return {
    ok: true,
    address: {
      recipientName,
      street,
      number: number.toUpperCase() === 'S/N' ? 'S/N' : number,
      apartment: text(input.apartment) || null,
      comuna,
      region: region.name,
      regionCode: region.code,
      phone: phone?.replace(/\s/g, '') ?? null,
      reference: text(input.reference) || null,
    },
  };
}

export { CHILE_REGIONS };
