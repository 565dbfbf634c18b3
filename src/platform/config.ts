import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import { parseDatabaseUrl, splitUrlList } from './db-url.js';

/**
 * Transbank's published integration (test) credentials, as `transbank-sdk` lists them in
 * IntegrationCommerceCodes / IntegrationApiKeys (a test pins them to the SDK). Inlined so
 * that reading the configuration, which every command does first, does not load the SDK:
 * ~150 ms before `embudo start` can launch its embedded PostgreSQL.
 */
export const TBK_INTEGRATION = {
  webpayPlus: '597055555532',
  webpayPlusMall: '597055555535',
  oneclickMall: '597055555541',
  oneclickMallChild1: '597055555542',
  apiKey: '579B532A7440BB0C9079DED94D31EA1615BACEB56610332264630D42D0A36B1C',
} as const;

/** Beside the compiled CLI (bin/compiled.js): caches derived from this checkout's sources. */
const DEFAULT_PG_TEMPLATE_DIR = path.resolve(import.meta.dirname, '../../.build/pg-templates');

const port = z.coerce.number().int().min(0).max(65535);
const optionalUrl = (protocols: string[]) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .refine((v) => v === undefined || protocols.some((p) => v.startsWith(`${p}://`)), {
      message: `must be a URL starting with ${protocols.map((p) => `${p}://`).join(' or ')}`,
    });

const boolFlag = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', ''])
  .optional()
  .transform((v) => v === '1' || v === 'true' || v === 'yes');

const envSchema = z.object({
  PORT: port.default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  EMBUDO_DATA_DIR: z.string().min(1).default('./data'),
  // Empty: no template, every first start runs initdb and the migrations.
  EMBUDO_PG_TEMPLATE_DIR: z.string().default(DEFAULT_PG_TEMPLATE_DIR),
  DATABASE_URL: optionalUrl(['postgres', 'postgresql']).superRefine((url, ctx) => void checkDatabaseUrl(url, ctx)),
  DATABASE_REPLICA_URLS: z
    .string()
    .optional()
    .transform((v) => splitUrlList(v ?? ''))
    .superRefine((urls, ctx) => {
      for (const url of urls) {
        if (!/^postgres(ql)?:\/\//.test(url)) {
          ctx.addIssue({ code: 'custom', message: 'must list postgres:// URLs separated by spaces or commas' });
        } else if (checkDatabaseUrl(url, ctx) && parseDatabaseUrl(url).hosts.length > 1) {
          ctx.addIssue({ code: 'custom', message: 'each replica URL names one host' });
        }
      }
    }),
  DATABASE_REPLICA_MAX_LAG_MS: z.coerce.number().int().min(0).max(3_600_000).default(5_000),
  DATABASE_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5_000),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(20),
  NATS_URL: optionalUrl(['nats', 'tls', 'ws', 'wss']),
  SIM_PORT: port.default(3100),
  PROCESSOR_BASE_URL: optionalUrl(['http', 'https']),
  PUBLIC_BASE_URL: optionalUrl(['http', 'https']),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  EMBUDO_SEED: boolFlag,
  EMBUDO_SEED_HISTORY_DAYS: z.coerce.number().int().min(0).max(3660).default(10),
  EMBUDO_NO_SIM: boolFlag,
  EMBUDO_KEK: z
    .string()
    .regex(/^[A-Za-z0-9+/=_-]{43,}$/, 'must be a base64 key of 32 bytes')
    .optional(),
  INVENTORY_RESERVATION_TTL_SECONDS: z.coerce.number().int().min(1).max(7 * 24 * 3600).default(900),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  EMBUDO_HTTP_MAX_IN_FLIGHT: z.coerce.number().int().min(0).max(1_000_000).default(1024),
  EMBUDO_HEAP_GROWING_PERCENT: z.coerce.number().int().min(0).max(1000).default(30),
  EMBUDO_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  // Payments (processors). Unset: the embedded simulator with Transbank's integration codes.
  TBK_BASE_URL: optionalUrl(['http', 'https']),
  TBK_COMMERCE_CODE: z.string().regex(/^\d{6,20}$/, 'must be a numeric commerce code').optional(),
  TBK_API_KEY: z.string().min(8).optional(),
  TBK_MALL_CHILD_CODE: z.string().regex(/^\d{6,20}$/, 'must be a numeric commerce code').optional(),
  TBK_ONECLICK_COMMERCE_CODE: z.string().regex(/^\d{6,20}$/, 'must be a numeric commerce code').optional(),
  TBK_ONECLICK_CHILD_CODE: z.string().regex(/^\d{6,20}$/, 'must be a numeric commerce code').optional(),
  MP_BASE_URL: optionalUrl(['http', 'https']),
  MP_ACCESS_TOKEN: z.string().min(8).optional(),
  MP_WEBHOOK_SECRET: z.string().min(8).optional(),
  MP_PUBLIC_KEY: z.string().min(8).max(200).optional(),
  EMBUDO_KEK_PREVIOUS: z
    .string()
    .regex(/^([A-Za-z0-9+/=_-]{43,})(,[A-Za-z0-9+/=_-]{43,})*$/, 'must be comma-separated base64 keys of 32 bytes')
    .optional(),
  PROCESSOR_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(30_000),
});

/** Processor endpoints and credentials for payments. */
export interface PaymentsConfig {
  /** True when TBK_BASE_URL / MP_BASE_URL were not given: the embedded simulator is meant. */
  tbkDefaulted: boolean;
  mpDefaulted: boolean;
  tbkBaseUrl: string;
  tbkCommerceCode: string;
  tbkApiKey: string;
  /** Set: Webpay Plus Mall with this child store; unset: Webpay Plus. */
  tbkMallChildCode: string | undefined;
  tbkOneclickCommerceCode: string;
  tbkOneclickChildCode: string;
  mpBaseUrl: string;
  mpAccessToken: string;
  mpWebhookSecret: string;
  /** Public key the shop's browser pages tokenize Mercado Pago cards with (not a secret). */
  mpPublicKey: string;
  kekPrevious: string[];
  processorTimeoutMs: number;
}

function checkDatabaseUrl(url: string | undefined, ctx: z.RefinementCtx): boolean {
  // A wrong scheme is reported once, by the URL check.
  if (url === undefined || !/^postgres(ql)?:\/\//.test(url)) return true;
  try {
    parseDatabaseUrl(url);
    return true;
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : 'invalid URL' });
    return false;
  }
}

export type Env = z.infer<typeof envSchema>;

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /**
   * Where the embedded mode keeps its cluster template (initdb and the migrations done once,
   * copied by every first start); undefined: none (EMBUDO_PG_TEMPLATE_DIR empty).
   */
  pgTemplateDir?: string | undefined;
  databaseUrl: string | undefined;
  poolSize: number;
  /** Read replicas for lag-tolerant reads (`db.reader()`). */
  replicaUrls: string[];
  replicaMaxLagMs: number;
  connectTimeoutMs: number;
  natsUrl: string | undefined;
  simPort: number;
  processorBaseUrl: string | undefined;
  publicBaseUrl: string | undefined;
  logLevel: Env['LOG_LEVEL'];
  seed: boolean;
  /** Days of simulated past traffic the first start seeds (EMBUDO_SEED_HISTORY_DAYS, 10; 0: none). */
  seedHistoryDays: number;
  startSimulator: boolean;
  kek: string | undefined;
  shutdownGraceMs: number;
  /** Requests served at once before new ones get 503 `overloaded` (EMBUDO_HTTP_MAX_IN_FLIGHT, 1024; 0: no limit). */
  httpMaxInFlight: number | undefined;
  /** V8's heap growing factor for `start`, in percent over the live heap (EMBUDO_HEAP_GROWING_PERCENT, 30; 0: V8's own). */
  heapGrowingPercent: number;
  /** Default time-to-live of a stock reservation (INVENTORY_RESERVATION_TTL_SECONDS, 900). */
  reservationTtlSeconds: number;
  /** Staff token for /admin routes (EMBUDO_ADMIN_TOKEN); admin routes are off without it. */
  adminToken: string | undefined;
  payments: PaymentsConfig;
}

/** One bad environment variable and what is wrong with it. */
export interface ConfigProblem {
  variable: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(
      `Invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

/**
 * Reads the configuration from environment variables and validates every value at once, so
 * a bad start-up names all the problems, one per line.
 *
 * @example
 * const config = loadConfig(process.env); // throws ConfigError listing each bad variable
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({
        variable: String(issue.path[0] ?? '?'),
        message: `${issue.message}${describeValue(String(issue.path[0]), env[String(issue.path[0])])}`,
      })),
    );
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: path.resolve(e.EMBUDO_DATA_DIR),
    pgTemplateDir: e.EMBUDO_PG_TEMPLATE_DIR ? path.resolve(e.EMBUDO_PG_TEMPLATE_DIR) : undefined,
    databaseUrl: e.DATABASE_URL,
    poolSize: e.DATABASE_POOL_SIZE,
    replicaUrls: e.DATABASE_REPLICA_URLS,
    replicaMaxLagMs: e.DATABASE_REPLICA_MAX_LAG_MS,
    connectTimeoutMs: e.DATABASE_CONNECT_TIMEOUT_MS,
    natsUrl: e.NATS_URL,
    simPort: e.SIM_PORT,
    processorBaseUrl: e.PROCESSOR_BASE_URL,
    publicBaseUrl: e.PUBLIC_BASE_URL,
    logLevel: e.LOG_LEVEL,
    seed: e.EMBUDO_SEED,
    seedHistoryDays: e.EMBUDO_SEED_HISTORY_DAYS,
    startSimulator: !e.EMBUDO_NO_SIM,
    kek: e.EMBUDO_KEK,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    httpMaxInFlight: e.EMBUDO_HTTP_MAX_IN_FLIGHT === 0 ? undefined : e.EMBUDO_HTTP_MAX_IN_FLIGHT,
    heapGrowingPercent: e.EMBUDO_HEAP_GROWING_PERCENT,
    reservationTtlSeconds: e.INVENTORY_RESERVATION_TTL_SECONDS,
    adminToken: e.EMBUDO_ADMIN_TOKEN,
    payments: paymentsConfig(e),
  };
}

function paymentsConfig(e: Env): PaymentsConfig {
  const sim = (e.PROCESSOR_BASE_URL ?? `http://127.0.0.1:${e.SIM_PORT}`).replace(/\/$/, '');
  const problems: ConfigProblem[] = [];
  const tbkBaseUrl = e.TBK_BASE_URL ?? sim;
  // Transbank's published integration credentials serve the simulator and integration host;
  // any other host needs real ones.
  const integration = !e.TBK_BASE_URL || e.TBK_BASE_URL.includes('webpay3gint.transbank.cl') || e.TBK_BASE_URL.startsWith(sim);
  if (!integration && (!e.TBK_API_KEY || !e.TBK_COMMERCE_CODE)) {
    problems.push({ variable: 'TBK_API_KEY', message: 'TBK_COMMERCE_CODE and TBK_API_KEY are required with a production TBK_BASE_URL' });
  }
  const mpBaseUrl = (e.MP_BASE_URL ?? sim).replace(/\/$/, '');
  // Against the simulator the MP secrets are generated per start and shared with it; against
  // a real Mercado Pago they must be given.
  if (e.MP_BASE_URL && !e.MP_BASE_URL.startsWith(sim) && (!e.MP_ACCESS_TOKEN || !e.MP_WEBHOOK_SECRET)) {
    problems.push({ variable: 'MP_ACCESS_TOKEN', message: 'MP_ACCESS_TOKEN and MP_WEBHOOK_SECRET are required with MP_BASE_URL' });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const codes = TBK_INTEGRATION;
  return {
    tbkDefaulted: !e.TBK_BASE_URL,
    mpDefaulted: !e.MP_BASE_URL && !e.MP_ACCESS_TOKEN,
    tbkBaseUrl,
    tbkCommerceCode: e.TBK_COMMERCE_CODE ?? (e.TBK_MALL_CHILD_CODE ? codes.webpayPlusMall : codes.webpayPlus),
    tbkApiKey: e.TBK_API_KEY ?? codes.apiKey,
    tbkMallChildCode: e.TBK_MALL_CHILD_CODE,
    tbkOneclickCommerceCode: e.TBK_ONECLICK_COMMERCE_CODE ?? codes.oneclickMall,
    tbkOneclickChildCode: e.TBK_ONECLICK_CHILD_CODE ?? codes.oneclickMallChild1,
    mpBaseUrl,
    mpAccessToken: e.MP_ACCESS_TOKEN ?? `TEST-${randomBytes(24).toString('hex')}`,
    mpWebhookSecret: e.MP_WEBHOOK_SECRET ?? randomBytes(32).toString('hex'),
    mpPublicKey: e.MP_PUBLIC_KEY ?? 'TEST-embudo-simulator-public-key',
    kekPrevious: e.EMBUDO_KEK_PREVIOUS ? e.EMBUDO_KEK_PREVIOUS.split(',') : [],
    processorTimeoutMs: e.PROCESSOR_TIMEOUT_MS,
  };
}

function describeValue(variable: string, value: string | undefined): string {
  // Never echo a secret, nor a URL that may carry a password.
  if (value === undefined || /KEK|SECRET|KEY|TOKEN|PASSWORD|URL/.test(variable)) return '';
  const shown = value.length > 40 ? `${value.slice(0, 12)}…` : value;
  return ` (got "${shown}")`;
}
