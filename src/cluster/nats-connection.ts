import type { JetStreamClient } from "@nats-io/jetstream";
import type { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import { type ClusterCapabilities, capabilitiesOf } from "./capabilities.js";
import { ClusterUnavailableError } from "./errors.js";
import { loadNatsClient, type NatsClient } from "./nats-client.js";
import { parseOptions } from "./options.js";

export const DEFAULT_NATS_SERVERS = "nats://127.0.0.1:4222";

export interface ClusterConnectionOptions {
  /** NATS server URL(s). Default `nats://127.0.0.1:4222`. */
  servers?: string | string[];
  /** The connection's name as the server shows it (monitoring); the node id is a good one. */
  name?: string;
  /** How long the first connection may take. Default 5000 ms. */
  connectTimeoutMs?: number;
  /**
   * How long a JetStream request (a KV put, get or update) may take before it fails. Default
   * 2000 ms. Leases cap it at their renew interval, so one slow request cannot outlast a lease.
   */
  requestTimeoutMs?: number;
  /** Reconnect attempts after a lost connection; -1 (the default) keeps trying for ever. */
  maxReconnectAttempts?: number;
  /** Pause between reconnect attempts. Default 1000 ms. */
  reconnectTimeWaitMs?: number;
  /**
   * How often the client pings the server. Default 2000 ms (the client library's own default is
   * 2 minutes). A connection whose link went dead without a reset (a network partition) is found
   * stale only by unanswered pings: after `maxPingOut` of them it is dropped and a new one is
   * dialled, so a node comes back within a few intervals of the link healing. Kept on the old
   * connection instead, it would wait out TCP's retransmission backoff — seen here: a node cut off
   * for 15 s had its heartbeats land again but received nothing for tens of seconds more.
   */
  pingIntervalMs?: number;
  /** Unanswered pings before the connection counts as stale. Default 2. */
  maxPingOut?: number;
}

const ServersSchema = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

const OptionsSchema = z
  .object({
    servers: ServersSchema.default(DEFAULT_NATS_SERVERS),
    name: z.string().min(1).max(200).optional(),
    connectTimeoutMs: z.number().int().positive().default(5000),
    requestTimeoutMs: z.number().int().positive().default(2000),
    maxReconnectAttempts: z.number().int().min(-1).default(-1),
    reconnectTimeWaitMs: z.number().int().nonnegative().default(1000),
    pingIntervalMs: z.number().int().positive().default(2000),
    maxPingOut: z.number().int().positive().default(2),
  })
  .strict();

/**
 * One node's link to NATS and its JetStream, shared by membership, leases and routing. Made by
 * `connectCluster` (it owns the connection and closes it) or `ClusterConnection.wrap` (around a
 * connection the caller made and closes).
 */
export class ClusterConnection {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly kvm: Kvm;
  /** The loaded client modules (error classes and codes are matched against them). */
  readonly client: NatsClient;
  readonly capabilities: ClusterCapabilities;
  readonly requestTimeoutMs: number;
  private readonly owned: boolean;

  private constructor(
    client: NatsClient,
    nc: NatsConnection,
    requestTimeoutMs: number,
    capabilities: ClusterCapabilities,
    owned: boolean,
  ) {
    this.client = client;
    this.nc = nc;
    this.requestTimeoutMs = requestTimeoutMs;
    this.js = client.jetstream.jetstream(nc, { timeout: requestTimeoutMs });
    this.kvm = new client.kv.Kvm(this.js);
    this.capabilities = capabilities;
    this.owned = owned;
  }

  /** Connects to NATS and checks that JetStream answers. */
  static async connect(options: ClusterConnectionOptions = {}): Promise<ClusterConnection> {
    const parsed = parseOptions(OptionsSchema, options, "cluster");
    const client = await loadNatsClient();
    const servers = Array.isArray(parsed.servers) ? parsed.servers.join(", ") : parsed.servers;
    let nc: NatsConnection;
    try {
      nc = await client.transport.connect({
        servers: parsed.servers,
        ...(parsed.name === undefined ? {} : { name: parsed.name }),
        timeout: parsed.connectTimeoutMs,
        maxReconnectAttempts: parsed.maxReconnectAttempts,
        reconnectTimeWait: parsed.reconnectTimeWaitMs,
        pingInterval: parsed.pingIntervalMs,
        maxPingOut: parsed.maxPingOut,
      });
    } catch (error) {
      throw new ClusterUnavailableError(
        "unreachable",
        `cannot connect to NATS at ${servers}: ${messageOf(error)}`,
        error,
      );
    }
    try {
      return await ClusterConnection.ready(client, nc, parsed.requestTimeoutMs, true);
    } catch (error) {
      await nc.close().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Uses a connection the caller made (and will close: `close()` here leaves it open). Checks
   * that JetStream answers.
   */
  static async wrap(
    nc: NatsConnection,
    options: { requestTimeoutMs?: number } = {},
  ): Promise<ClusterConnection> {
    const parsed = parseOptions(
      z.object({ requestTimeoutMs: z.number().int().positive().default(2000) }).strict(),
      options,
      "cluster",
    );
    const client = await loadNatsClient();
    return ClusterConnection.ready(client, nc, parsed.requestTimeoutMs, false);
  }

  private static async ready(
    client: NatsClient,
    nc: NatsConnection,
    requestTimeoutMs: number,
    owned: boolean,
  ): Promise<ClusterConnection> {
    try {
      const jsm = await client.jetstream.jetstreamManager(nc, { timeout: requestTimeoutMs });
      await jsm.getAccountInfo();
    } catch (error) {
      throw new ClusterUnavailableError(
        "no_jetstream",
        `NATS at ${nc.getServer()} does not answer JetStream requests (start nats-server with -js): ${messageOf(error)}`,
        error,
      );
    }
    const capabilities = capabilitiesOf(nc.info?.version ?? "unknown");
    return new ClusterConnection(client, nc, requestTimeoutMs, capabilities, owned);
  }

  get isClosed(): boolean {
    return this.nc.isClosed();
  }

  /** Closes the connection if this object made it. */
  async close(): Promise<void> {
    if (this.owned && !this.nc.isClosed()) await this.nc.close();
  }
}

/** Connects a node to the cluster's NATS; see ClusterConnectionOptions for the defaults. */
export function connectCluster(options: ClusterConnectionOptions = {}): Promise<ClusterConnection> {
  return ClusterConnection.connect(options);
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
