import { existsSync, mkdirSync, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { hostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { ServerType } from "@hono/node-server";
import { InvalidArgumentError } from "../errors.js";
import { type Logger, silentLogger } from "../runtime/index.js";
import { SessionSystem, type SessionSystemOptions } from "../session/index.js";
import { MemorySessionStore, PostgresSessionStore } from "../store/index.js";
import { VERSION } from "../version.js";
import { type AppOptions, createApp, type SessionvisorApp } from "./app.js";
import { clusterSessions } from "./cluster-served-sessions.js";
import { claimDataDir } from "./data-dir-lock.js";
import { isLoopbackHost } from "./options.js";
import { localSessions, type ServedSessions } from "./served-sessions.js";
import { parseStoreUrl } from "./store-url.js";
import { webSocketEvents } from "./websocket-events.js";

export const DEFAULT_PORT = 8787;
export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_DATA_DIR = ".sessionvisor";
/** The SQLite file in the data directory. */
export const STORE_FILE = "sessions.db";

export interface ServeOptions extends AppOptions {
  /** The session system to serve; by default one is started on `dataDir` and stopped by `close`. */
  system?: SessionSystem | undefined;
  /** Default 8787; 0 for any free port (`url` tells which). */
  port?: number | undefined;
  /** Default 127.0.0.1. Any address other than a loopback one needs `tokens`. */
  host?: string | undefined;
  /** Where the SQLite store lives when no `system` is given (created if missing; default ./.sessionvisor). */
  dataDir?: string | undefined;
  /**
   * Keeps sessions in memory instead of `dataDir` (nothing survives the process; no
   * better-sqlite3 needed). Only when no `system` is given.
   */
  memory?: boolean | undefined;
  /**
   * Keeps sessions in PostgreSQL instead of `dataDir`: a `postgres://` URL, `?schema=` naming the
   * schema of the store's tables (default `sessionvisor`; needs the `pg` package). Only when no
   * `system` is given; the store is closed with the server.
   */
  store?: string | undefined;
  /**
   * Joins a cluster of sessionvisor nodes on NATS: this server's sessions run on every node of
   * the cluster, and its API reaches each wherever it runs (see `ServeClusterOptions`). Needs
   * `store` (the PostgreSQL every node shares) and the NATS packages; not with `system`.
   */
  cluster?: ServeClusterOptions | undefined;
  /** Options of the session system started when no `system` is given (its store and logger are the server's). */
  systemOptions?: Omit<SessionSystemOptions, "store" | "storePath" | "logger"> | undefined;
  /** How long `close` lets responses finish before it drops their connections (ms, default 5,000). */
  closeGraceMs?: number | undefined;
}

/** `serve`'s cluster mode: the NATS to join and this node's place in the cluster. */
export interface ServeClusterOptions {
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222`. */
  servers: string | string[];
  /**
   * This node's id (1-64 of `A-Za-z0-9_-`), unique in the cluster. Default
   * `<hostname>-<process id>`: a restarted server is a new node, and the others take over its
   * sessions when its leases expire. Give a stable id to have a restart seen as one at once.
   */
  node?: string | undefined;
  /** The subject prefix every node of the cluster shares (default `sessionvisor`). */
  prefix?: string | undefined;
  /** Ownership lease TTL, the same on every node (default 10,000 ms): a dead node's sessions move within 2× it. */
  leaseTtlMs?: number | undefined;
  /** How long a request to another node other than a turn waits (default 10,000 ms). */
  requestTimeoutMs?: number | undefined;
  /** Resident memory (MiB) above which this node takes no new sessions while another does (default: no limit). */
  maxRssMb?: number | undefined;
}

export interface RunningServer {
  /** `http://host:port`, with the port actually bound. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** This process's session system (in cluster mode: this node's). */
  readonly system: SessionSystem;
  /** This node's id in cluster mode; undefined otherwise. */
  readonly node: string | undefined;
  readonly app: SessionvisorApp;
  /** The node HTTP server underneath. */
  readonly server: ServerType;
  /**
   * Graceful stop: no new connections, every SSE stream ended and every turn in flight
   * cancelled, open connections given `closeGraceMs` to finish, then the session system stopped
   * (if `serve` started it). Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Starts the HTTP API: a session system (an SQLite file in `dataDir`, unless `system` is
 * given) behind hono on `host:port`. Refuses, before starting anything, a non-loopback `host`
 * without `tokens`.
 */
export async function serve(options: ServeOptions = {}): Promise<RunningServer> {
  const host = options.host ?? DEFAULT_HOST;
  const port = options.port ?? DEFAULT_PORT;
  if (!(Number.isInteger(port) && port >= 0 && port <= 65_535)) {
    throw new InvalidArgumentError("port", "must be a whole number from 0 to 65535");
  }
  if (typeof host !== "string" || host.length === 0)
    throw new InvalidArgumentError("host", "must be an address");
  const closeGraceMs = options.closeGraceMs ?? 5000;
  if (!(Number.isFinite(closeGraceMs) && closeGraceMs >= 0)) {
    throw new InvalidArgumentError("closeGraceMs", "must be a number of ms >= 0");
  }
  if ((options.tokens === undefined || options.tokens.length === 0) && !isLoopbackHost(host)) {
    throw new InvalidArgumentError(
      "host",
      `${host} is not a loopback address and no tokens are configured, so anyone who can reach it ` +
        "could use every session: give tokens (--tokens FILE or SESSIONVISOR_TOKENS), or listen on 127.0.0.1",
    );
  }
  if (options.dev && !isLoopbackHost(host)) {
    throw new InvalidArgumentError(
      "dev",
      `development mode lets a client kill any of its processes, so it is refused on ${host}: listen on 127.0.0.1`,
    );
  }
  // `memory` wins over a `dataDir` given beside it (nothing is created there); a `store` is
  // a third place for the sessions, so it goes with neither.
  if (options.store !== undefined && (options.memory === true || options.dataDir !== undefined)) {
    throw new InvalidArgumentError("store", "give one of dataDir, memory and store");
  }
  const storeUrl = options.store === undefined ? undefined : parseStoreUrl(options.store);
  if (options.cluster !== undefined) {
    checkClusterOptions(options.cluster);
    if (options.system !== undefined)
      throw new InvalidArgumentError("cluster", "cannot serve a given system");
    if (storeUrl === undefined)
      throw new InvalidArgumentError(
        "cluster",
        "needs store: the postgres:// URL of the PostgreSQL every node of the cluster shares",
      );
  }
  const logger: Logger = options.logger ?? silentLogger();
  // Loaded on the first serve, not when sessionvisor is imported (see createApp).
  const { createAdaptorServer } = await import("@hono/node-server");

  const ownsSystem = options.system === undefined;
  let system: SessionSystem;
  /** What the API serves: `system`'s sessions, or in cluster mode every node's. */
  let served: ServedSessions | undefined;
  /** This server's cluster node, closed with it. */
  let clusterNode: { close(): Promise<void> } | undefined;
  // The data directory is this server's while it runs: a second serve, or the CLI's embedded
  // mode, on the same SQLite file would run every session a second time.
  let lock: ReturnType<typeof claimDataDir> | undefined;
  /** A store this server opened, closed after its system stops. */
  let ownStore: PostgresSessionStore | undefined;
  if (options.system) {
    system = options.system;
  } else if (options.cluster && storeUrl) {
    // Loaded only here: the NATS packages are optional, and a server alone never needs them.
    const { ClusterNode } = await import("../cluster/index.js");
    const { cluster } = options;
    const node = await ClusterNode.start({
      node: cluster.node ?? defaultNodeId(),
      servers: cluster.servers,
      store: storeUrl,
      logger,
      ...(cluster.prefix === undefined ? {} : { prefix: cluster.prefix }),
      ...(cluster.leaseTtlMs === undefined ? {} : { leaseTtlMs: cluster.leaseTtlMs }),
      ...(cluster.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: cluster.requestTimeoutMs }),
      ...(cluster.maxRssMb === undefined ? {} : { maxRssMb: cluster.maxRssMb }),
      ...(options.systemOptions === undefined ? {} : { system: options.systemOptions }),
    });
    clusterNode = node;
    system = node.system;
    served = clusterSessions(node);
  } else if (storeUrl) {
    ownStore = await PostgresSessionStore.open(storeUrl);
    try {
      system = await SessionSystem.start({ ...options.systemOptions, store: ownStore, logger });
    } catch (error) {
      await ownStore.close().catch(() => {});
      throw error;
    }
  } else if (options.memory) {
    system = await SessionSystem.start({ ...options.systemOptions, store: new MemorySessionStore(), logger });
  } else {
    const dataDir = resolve(options.dataDir ?? DEFAULT_DATA_DIR);
    makeDirectory(dataDir);
    lock = claimDataDir(dataDir);
    try {
      system = await SessionSystem.start({
        ...options.systemOptions,
        storePath: join(dataDir, STORE_FILE),
        logger,
      });
    } catch (error) {
      lock.release();
      throw error;
    }
  }

  const sessions = served ?? localSessions(system);
  /** Stops what this server started: its system (or cluster node), store and data directory. */
  const stopOwn = async () => {
    if (clusterNode) await clusterNode.close();
    else if (ownsSystem) await system.stop();
    await ownStore?.close();
    lock?.release();
  };
  let app: SessionvisorApp;
  try {
    app = await createApp(sessions, {
      tokens: options.tokens,
      limits: options.limits,
      logger,
      version: options.version ?? VERSION,
      dev: options.dev,
    });
  } catch (error) {
    await stopOwn().catch(() => {});
    throw error;
  }

  // The process's global Request and Response are left alone: a library does not swap them
  // (the adapter's faster ones would be seen by all the embedding program's code).
  const server = createAdaptorServer({
    fetch: app.fetch,
    hostname: host,
    port,
    overrideGlobalObjects: false,
  });
  const connections = trackConnections(server);
  // A session's events over WebSocket too, beside SSE (ws is loaded with the first server).
  const websockets = await webSocketEvents(sessions, (request) => app.fetch(request), app.access, logger);
  server.on("upgrade", websockets.upgrade);
  try {
    await new Promise<void>((done, fail) => {
      server.once("error", fail);
      server.listen(port, host, () => {
        server.off("error", fail);
        done();
      });
    });
  } catch (error) {
    websockets.close();
    app.close();
    await stopOwn().catch(() => {});
    throw error;
  }
  const address = server.address() as AddressInfo;
  const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${shown}:${address.port}`;
  lock?.setUrl(url);
  logger.info({ event: "server_listening", url }, `sessionvisor serving on ${url}`);

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      const stopped = new Promise<void>((done) => server.close(() => done()));
      websockets.close();
      app.close();
      // Connections are closed as soon as no response is in flight on them (the streams just
      // ended, the turns just cancelled, a client's idle or spare connection); whatever is still
      // open after the grace period is dropped.
      connections.closeWhenIdle();
      const grace = setTimeout(() => connections.closeAll(), closeGraceMs);
      await stopped;
      clearTimeout(grace);
      await stopOwn();
      logger.info({ event: "server_closed", url }, "sessionvisor server closed");
    })();
    return closed;
  };

  return { url, host, port: address.port, system, node: sessions.node, app, server, close };
}

const CLUSTER_OPTION_NAMES = new Set([
  "servers",
  "node",
  "prefix",
  "leaseTtlMs",
  "requestTimeoutMs",
  "maxRssMb",
]);

/**
 * The shape of `cluster` (its values are checked by the cluster node): an object with `servers`
 * and no option it does not know, so that a misspelt one is not silently left at its default.
 */
function checkClusterOptions(cluster: unknown): void {
  if (typeof cluster !== "object" || cluster === null || Array.isArray(cluster))
    throw new InvalidArgumentError(
      "cluster",
      "must be an object: { servers, node?, prefix?, leaseTtlMs?, … }",
    );
  for (const name of Object.keys(cluster))
    if (!CLUSTER_OPTION_NAMES.has(name))
      throw new InvalidArgumentError(`cluster.${name}`, "is not a known option");
  if ((cluster as { servers?: unknown }).servers === undefined)
    throw new InvalidArgumentError("cluster.servers", "is required: the NATS URL(s) of the cluster");
}

/** `<hostname>-<process id>`, kept to what a node id may hold. */
function defaultNodeId(): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9_-]+/g, "-")
      .slice(0, 40) || "node";
  return `${host}-${process.pid}`;
}

/**
 * Creates `dir` and its missing parents, one level at a time (`mkdirSync`'s own `recursive`
 * spins forever under /proc). InvalidArgumentError `dataDir` when it cannot.
 */
function makeDirectory(dir: string): void {
  const missing: string[] = [];
  for (let at = dir; !existsSync(at); at = dirname(at)) {
    missing.unshift(at);
    if (dirname(at) === at) break;
  }
  try {
    for (const level of missing) mkdirSync(level);
    if (!statSync(dir).isDirectory()) throw new Error("it is not a directory");
  } catch (error) {
    throw new InvalidArgumentError("dataDir", `cannot create ${dir}: ${(error as Error).message}`);
  }
}

/**
 * The server's connections and the responses in flight on each, so that a closing server ends
 * every connection the moment it has nothing left to answer. (Node's own `closeIdleConnections`
 * leaves a connection that has not sent a request yet, such as a client's spare one, open
 * until it times out.)
 */
function trackConnections(server: ServerType): { closeWhenIdle(): void; closeAll(): void } {
  const inFlight = new Map<Socket, number>();
  let closing = false;
  server.on("connection", (socket: Socket) => {
    inFlight.set(socket, 0);
    socket.once("close", () => inFlight.delete(socket));
  });
  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    response.once("close", () => {
      const left = (inFlight.get(socket) ?? 1) - 1;
      inFlight.set(socket, left);
      if (closing && left <= 0) socket.destroy();
    });
  });
  return {
    closeWhenIdle() {
      closing = true;
      for (const [socket, count] of inFlight) if (count <= 0) socket.destroy();
    },
    closeAll() {
      for (const socket of inFlight.keys()) socket.destroy();
    },
  };
}
