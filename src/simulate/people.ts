import { CHILE_REGIONS, type AddressInput } from '../customers/index.js';
import type { Rng } from './rng.js';

/** Share of Chile's population per region (2017 census, Ñuble split from Biobío), by CUT code. */
const REGION_SHARE: Record<string, number> = {
  '13': 40.5, '05': 10.3, '08': 8.8, '07': 5.8, '09': 5.4, '06': 5.2, '10': 4.7, '04': 4.3,
  '02': 3.4, '16': 2.7, '14': 2.1, '01': 1.9, '03': 1.6, '15': 1.3, '12': 0.9, '11': 0.6,
};

const FIRST = ['Camila', 'Valentina', 'Javiera', 'Catalina', 'Fernanda', 'Constanza', 'Francisca', 'Daniela', 'Ignacia', 'Antonia',
  'Benjamín', 'Matías', 'Vicente', 'Martín', 'Sebastián', 'Tomás', 'Joaquín', 'Diego', 'Felipe', 'Cristóbal'];
const LAST = ['González', 'Muñoz', 'Rojas', 'Díaz', 'Pérez', 'Soto', 'Contreras', 'Silva', 'Martínez', 'Sepúlveda',
  'Morales', 'Rodríguez', 'López', 'Fuentes', 'Hernández', 'Torres', 'Araya', 'Flores', 'Espinoza', 'Valenzuela'];
const STREETS = ['Av. Libertador Bernardo O\'Higgins', 'Los Carrera', 'Arturo Prat', 'Manuel Rodríguez', 'Gabriela Mistral',
  'Pedro de Valdivia', 'Av. Matta', 'Freire', 'San Martín', 'Colón', 'Baquedano', 'Balmaceda'];

export type PaymentHabit = 'webpay' | 'oneclick' | 'mercadopago_card' | 'mercadopago_cash';

export interface SimCustomer {
  /** Stable index in the plan (also in the e-mail, so reruns with the same seed match). */
  no: number;
  email: string;
  name: string;
  address: AddressInput;
  /** How this customer usually pays. */
  habit: PaymentHabit;
  /** Relative activity: a few frequent buyers, many occasional ones. */
  activity: number;
}

const HABITS: readonly PaymentHabit[] = ['webpay', 'oneclick', 'mercadopago_card', 'mercadopago_cash'];
/** The payment-method mix of Chilean e-commerce, roughly: Webpay first, then wallets and saved cards. */
const HABIT_WEIGHTS = [45, 20, 25, 10];

/** Customers spread over Chile's regions and comunas in proportion to population. */
export function generateCustomers(rng: Rng, count: number, seedLabel: string): SimCustomer[] {
  const regions = CHILE_REGIONS.map((r) => ({ region: r, weight: REGION_SHARE[r.code] ?? 1 }));
  const out: SimCustomer[] = [];
  for (let no = 0; no < count; no++) {
    const { region } = regions[rng.weighted(regions.map((r) => r.weight))] as (typeof regions)[number];
    // The first comunas of each list are the regional capitals and big cities: weight them up.
    const comuna = region.comunas[rng.weighted(region.comunas.map((_, i) => 1 / (i + 1)))] as string;
    const first = rng.pick(FIRST);
    const last = rng.pick(LAST);
    out.push({
      no,
      email: `sim-${seedLabel}-${no}@clientes.embudo.test`,
      name: `${first} ${last}`,
      address: {
        recipientName: `${first} ${last}`,
        street: rng.pick(STREETS),
        number: String(rng.int(10, 9999)),
        ...(rng.chance(0.3) ? { apartment: `Depto ${rng.int(101, 2404)}` } : {}),
        comuna,
        region: region.name,
        phone: `+569${String(rng.int(10_000_000, 99_999_999))}`,
      },
      habit: HABITS[rng.weighted(HABIT_WEIGHTS)] as PaymentHabit,
      activity: Math.exp(rng.normal(0, 0.9)),
    });
  }
  return out;
}
