import { InvalidArgumentError } from "../errors.js";
import type { FenceSource } from "./fence.js";

export interface PostgresStoreOptions {
  /**
   * Where the database is, e.g. `postgres://user@127.0.0.1:5432/db`. Default: pg's own defaults
   * and the PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE environment variables.
   */
  connectionString?: string | undefined;
  /**
   * The schema holding every table of the store, created when missing (default `sessionvisor`).
   * Several programs, or tests, share one database with a schema each. Lower-case letters,
   * digits and `_`, starting with a letter or `_`, at most 63 characters: it is part of the SQL.
   */
  schema?: string | undefined;
  /** The most connections the store opens at once (default 10). */
  poolSize?: number | undefined;
  /** How long a call waits for a new connection before it fails with StoreUnavailableError (default 5000 ms). */
  connectTimeoutMs?: number | undefined;
  /**
   * How long the database lets one of the store's transactions sit open with nothing to do
   * before it ends the connection and rolls the transaction back (default 5000 ms). It bounds
   * how long a node that pauses, or loses its network, in the middle of a write can hold the
   * rows of that write locked: another node that has taken the session over waits no longer.
   */
  idleInTransactionTimeoutMs?: number | undefined;
  /** The `application_name` of the store's connections, as pg_stat_activity shows it (default `sessionvisor`). */
  applicationName?: string | undefined;
  /**
   * Whether conversation and event-log writes wait for the database's WAL flush before they
   * return (default true). False commits them with `synchronous_commit = off`, as the SQLite
   * store commits the same writes without an fsync: they survive this process dying at any
   * point, and a crash of the database server may lose the last fraction of a second of them
   * (never out of order). Session records always commit durably unless written with
   * `durable: false`.
   */
  durableTurns?: boolean | undefined;
  /**
   * Cluster mode: the fence of each session this node owns. Every write that concerns a session
   * then carries its fence, and the store refuses it with StaleFenceError when the session's
   * fence in the database is higher (a newer owner wrote) or this node holds none. Without it
   * (one node) writes are not fenced.
   */
  fences?: FenceSource | undefined;
}

export interface ResolvedPostgresStoreOptions {
  connectionString: string | undefined;
  schema: string;
  poolSize: number;
  connectTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
  applicationName: string;
  durableTurns: boolean;
  fences: FenceSource | undefined;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
// application_name is sent as a startup parameter and shown to admins; printable ASCII only.
const APPLICATION_NAME = /^[\x20-\x7e]{1,63}$/;

export function resolvePostgresStoreOptions(options: unknown): ResolvedPostgresStoreOptions {
  if (typeof options !== "object" || options === null || Array.isArray(options))
    throw new InvalidArgumentError("Postgres store options", "must be an object");
  const o = options as PostgresStoreOptions;
  const known = new Set([
    "connectionString",
    "schema",
    "poolSize",
    "connectTimeoutMs",
    "idleInTransactionTimeoutMs",
    "applicationName",
    "durableTurns",
    "fences",
  ]);
  for (const key of Object.keys(o))
    if (!known.has(key))
      throw new InvalidArgumentError(key, `is not a Postgres store option (known: ${[...known].join(", ")})`);
  if (
    o.connectionString !== undefined &&
    (typeof o.connectionString !== "string" || o.connectionString === "")
  )
    throw new InvalidArgumentError(
      "connectionString",
      "must be a non-empty string such as postgres://user@host:5432/db",
    );
  const schema = o.schema ?? "sessionvisor";
  if (typeof schema !== "string" || !SCHEMA_NAME.test(schema) || schema.startsWith("pg_"))
    throw new InvalidArgumentError(
      "schema",
      `${JSON.stringify(schema)} is not a schema name: use 1-63 lower-case letters, digits or '_', starting with a letter or '_' (not pg_)`,
    );
  const poolSize = o.poolSize ?? 10;
  if (!Number.isSafeInteger(poolSize) || poolSize < 1 || poolSize > 1000)
    throw new InvalidArgumentError("poolSize", "must be a whole number from 1 to 1000");
  const connectTimeoutMs = o.connectTimeoutMs ?? 5000;
  if (!Number.isSafeInteger(connectTimeoutMs) || connectTimeoutMs < 1)
    throw new InvalidArgumentError("connectTimeoutMs", "must be a whole number of milliseconds >= 1");
  const idleInTransactionTimeoutMs = o.idleInTransactionTimeoutMs ?? 5000;
  if (!Number.isSafeInteger(idleInTransactionTimeoutMs) || idleInTransactionTimeoutMs < 1)
    throw new InvalidArgumentError(
      "idleInTransactionTimeoutMs",
      "must be a whole number of milliseconds >= 1",
    );
  const applicationName = o.applicationName ?? "sessionvisor";
  if (typeof applicationName !== "string" || !APPLICATION_NAME.test(applicationName))
    throw new InvalidArgumentError("applicationName", "must be 1-63 printable ASCII characters");
  const durableTurns = o.durableTurns ?? true;
  if (typeof durableTurns !== "boolean")
    throw new InvalidArgumentError("durableTurns", "must be true or false");
  if (o.fences !== undefined && typeof (o.fences as Partial<FenceSource>)?.fenceOf !== "function")
    throw new InvalidArgumentError("fences", "must have a fenceOf(sessionId) method");
  return {
    connectionString: o.connectionString,
    schema,
    poolSize,
    connectTimeoutMs,
    idleInTransactionTimeoutMs,
    applicationName,
    durableTurns,
    fences: o.fences,
  };
}

/** Where the store is, for messages: the connection string without its password. */
export function describeTarget(connectionString: string | undefined, schema: string): string {
  if (connectionString === undefined) return `schema "${schema}" (PG* environment)`;
  let shown = connectionString;
  try {
    const url = new URL(connectionString);
    if (url.password) url.password = "***";
    if (url.searchParams.has("password")) url.searchParams.set("password", "***");
    shown = url.toString();
  } catch {
    shown = "(connection string)";
  }
  return `${shown} schema "${schema}"`;
}
