import { z } from 'zod';
import type { NewEvent } from './outbox.js';

/**
 * An event type's public contract: its versioned payload schema, owned by the publishing
 * context (in its events.ts) and registered with the bus for the generated catalogue.
 *
 * @example
 * export const stockChanged = defineEvent({
 *   type: 'inventory.stock_changed', version: 1, aggregateType: 'sku',
 *   description: 'On-hand or reserved stock of a SKU at a location changed.',
 *   schema: z.object({ sku: z.string(), locationId: z.string(), onHand: z.number().int(),
 *     reserved: z.number().int(), available: z.number().int() }),
 * });
 * await appendEvents(tx, [stockChanged.build(sku, payload)]); // validates the payload
 */
export interface EventDefinition<S extends z.ZodType = z.ZodType> {
  type: string;
  version: number;
  aggregateType: string;
  description: string;
  schema: S;
  /** A validated NewEvent for `appendEvents`; throws on a payload that breaks the contract. */
  build(aggregateId: string, payload: z.input<S>, options?: { id?: string; occurredAt?: Date }): NewEvent<z.output<S>>;
}

export function defineEvent<S extends z.ZodType>(def: {
  type: string;
  version: number;
  aggregateType: string;
  description: string;
  schema: S;
}): EventDefinition<S> {
  if (!/^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$/.test(def.type)) throw new Error(`event type "${def.type}" must be <context>.<snake_case_name>`);
  if (!Number.isInteger(def.version) || def.version < 1) throw new Error(`event ${def.type}: version must be a positive integer`);
  return {
    ...def,
    build(aggregateId, payload, options = {}) {
      return {
        type: def.type,
        version: def.version,
        aggregateType: def.aggregateType,
        aggregateId,
        payload: def.schema.parse(payload),
        ...options,
      };
    },
  };
}

interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  format?: string;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  anyOf?: JsonSchema[];
}

function typeOf(prop: JsonSchema): string {
  if (prop.const !== undefined) return JSON.stringify(prop.const);
  if (prop.enum) return prop.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (prop.anyOf) return prop.anyOf.map(typeOf).join(' \\| ');
  const base = Array.isArray(prop.type) ? prop.type.join(' \\| ') : (prop.type ?? 'any');
  if (base === 'array' && prop.items) return `${typeOf(prop.items)}[]`;
  return prop.format ? `${base} (${prop.format})` : base;
}

/** One table row per field; nested objects (and arrays of objects) as dotted paths. */
function fieldRows(schema: JsonSchema, prefix = ''): string[] {
  const out: string[] = [];
  for (const [name, prop] of Object.entries(schema.properties ?? {})) {
    const field = `${prefix}${name}`;
    const nested = prop.properties ? prop : prop.items?.properties ? prop.items : undefined;
    out.push(`| \`${field}\` | ${nested ? (prop.items ? 'object[]' : 'object') : typeOf(prop)} | ${schema.required?.includes(name) ? 'yes' : 'no'} |`);
    if (nested) out.push(...fieldRows(nested, prop.items ? `${field}[].` : `${field}.`));
  }
  return out;
}

/**
 * Renders the registered event types as Markdown: one section per context, one per type and
 * version. `level` is the heading level of the title (2 when embedded in a larger document).
 */
export function renderCatalog(defs: readonly EventDefinition[], options: { level?: number } = {}): string {
  const h = (n: number) => '#'.repeat((options.level ?? 1) + n);
  const sorted = [...defs].sort((a, b) => a.type.localeCompare(b.type) || a.version - b.version);
  const lines = [
    `${h(0)} Event catalogue`,
    '',
    'Generated from the payload schemas each context registers with the bus (`embudo events catalog`;',
    '`npm run docs:events` rewrites this section of docs/events.md). Subjects on NATS JetStream are',
    '`embudo.<type>`; one stream per context (`EMBUDO_<CONTEXT>`).',
    '',
  ];
  if (sorted.length === 0) lines.push('_No event types registered._', '');
  let context = '';
  for (const def of sorted) {
    const ctx = def.type.slice(0, def.type.indexOf('.'));
    if (ctx !== context) {
      context = ctx;
      lines.push(`${h(1)} ${ctx}`, '');
    }
    lines.push(`${h(2)} \`${def.type}\` v${def.version}`, '', def.description, '', `Aggregate: \`${def.aggregateType}\` · subject \`embudo.${def.type}\``, '');
    lines.push('| field | type | required |', '| --- | --- | --- |');
    lines.push(...fieldRows(z.toJSONSchema(def.schema, { unrepresentable: 'any' }) as JsonSchema));
    lines.push('');
  }
  return lines.join('\n');
}
