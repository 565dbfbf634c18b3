import path from 'node:path';
import { z } from 'zod';
import { parseDatabaseUrl, splitUrlList } from './db-url.js';

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
  EMBUDO_NO_SIM: boolFlag,
  EMBUDO_KEK: z
    .string()
    .regex(/^[A-Za-z0-9+/=_-]{43,}$/, 'must be a base64 key of 32 bytes')
    .optional(),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
});

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
  startSimulator: boolean;
  kek: string | undefined;
  shutdownGraceMs: number;
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
    startSimulator: !e.EMBUDO_NO_SIM,
    kek: e.EMBUDO_KEK,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
  };
}

function describeValue(variable: string, value: string | undefined): string {
  // Never echo a secret, nor a URL that may carry a password.
  if (value === undefined || /KEK|SECRET|KEY|TOKEN|PASSWORD|URL/.test(variable)) return '';
  const shown = value.length > 40 ? `${value.slice(0, 12)}…` : value;
  return ` (got "${shown}")`;
}
