import type { KV, KvWatchEntry } from "@nats-io/kv";
import type { QueuedIterator } from "@nats-io/transport-node";
import { z } from "zod";
import { InvalidArgumentError } from "../errors.js";
import { ClusterClosedError, ClusterUnavailableError } from "./errors.js";
import { openTtlBucket } from "./kv-bucket.js";
import { LivenessView, type MemberDownReason } from "./liveness.js";
import {
  type ClusterMember,
  decodeMemberEntry,
  encodeMemberEntry,
  type MemberEntry,
} from "./member-entry.js";
import { type ClusterConnection, messageOf } from "./nats-connection.js";
import { BUCKET_PATTERN, NODE_ID_PATTERN, parseOptions } from "./options.js";

export const DEFAULT_NODES_BUCKET = "sessionvisor_nodes";

export interface MembershipOptions {
  /** This node's id: 1-128 letters, digits, '_' or '-'; unique in the cluster. */
  node: string;
  /** Where this node answers requests. Default `sessionvisor.node.<node>`. */
  subjectPrefix?: string;
  /** The KV bucket of the members. Default `sessionvisor_nodes`. */
  bucket?: string;
  /** How often this node renews its entry. Default 1000 ms. */
  heartbeatMs?: number;
  /**
   * A node whose last heartbeat is older than this (by the server's clock) is down. Default
   * 3 × heartbeatMs; at least 2 × heartbeatMs, so one late heartbeat is not a death.
   */
  deadAfterMs?: number;
  /**
   * The bucket's TTL, used only when this node creates the bucket: it clears the entries of
   * nodes long gone (liveness is judged by timestamps, not by expiry). Default 60 000 ms, and
   * at least deadAfterMs.
   */
  bucketTtlMs?: number;
  /** The number of sessions this node runs, reported with every heartbeat. Default: 0. */
  sessions?: () => number;
  /** Whether this node is full (takes no new sessions while another does), with every heartbeat. Default: never. */
  full?: () => boolean;
}

export type MembershipEvent =
  | { type: "member_up"; member: ClusterMember }
  | { type: "member_down"; member: ClusterMember; reason: MemberDownReason }
  /** A heartbeat could not be written (the next one tries again). */
  | { type: "heartbeat_failed"; error: Error }
  /** The watch of the bucket ended with an error: this membership's view no longer moves. */
  | { type: "watch_failed"; error: Error };

export type MembershipListener = (event: MembershipEvent) => void;

const OptionsSchema = z
  .object({
    node: z.string().regex(NODE_ID_PATTERN, "must be 1-128 letters, digits, '_' or '-'"),
    subjectPrefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, "must be subject tokens joined by '.'")
      .optional(),
    bucket: z
      .string()
      .regex(BUCKET_PATTERN, "must be 1-64 letters, digits, '_' or '-'")
      .default(DEFAULT_NODES_BUCKET),
    heartbeatMs: z.number().int().min(10).default(1000),
    deadAfterMs: z.number().int().positive().optional(),
    bucketTtlMs: z.number().int().positive().optional(),
    sessions: z.custom<() => number>((value) => typeof value === "function", "must be a function").optional(),
    full: z.custom<() => boolean>((value) => typeof value === "function", "must be a function").optional(),
  })
  .strict()
  .superRefine((options, ctx) => {
    const deadAfterMs = options.deadAfterMs ?? options.heartbeatMs * 3;
    if (deadAfterMs < options.heartbeatMs * 2) {
      ctx.addIssue({ code: "custom", path: ["deadAfterMs"], message: "must be at least 2 × heartbeatMs" });
    }
    if (options.bucketTtlMs !== undefined && options.bucketTtlMs < deadAfterMs) {
      ctx.addIssue({ code: "custom", path: ["bucketTtlMs"], message: "must be at least deadAfterMs" });
    }
  });

/**
 * This node's place in the cluster: it renews its entry (id, subject prefix, load) in the
 * `nodes` KV bucket every heartbeat, and watches the bucket to know which other nodes are
 * live (see LivenessView for how death is judged, and its bound). No failure detector of our
 * own beyond that: the KV bucket is the single source, and every node reads it alike.
 */
export class Membership {
  readonly node: string;
  readonly subjectPrefix: string;
  readonly heartbeatMs: number;
  readonly deadAfterMs: number;
  private readonly kv: KV;
  private readonly view: LivenessView;
  private readonly listeners = new Set<MembershipListener>();
  private readonly sessions: () => number;
  private readonly full: () => boolean;
  private readonly startedAt = new Date().toISOString();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeatInFlight: Promise<void> | undefined;
  private watcher: QueuedIterator<KvWatchEntry>;
  private watching: Promise<void> | undefined;
  private closed = false;

  private constructor(kv: KV, parsed: z.output<typeof OptionsSchema>, watcher: QueuedIterator<KvWatchEntry>) {
    this.kv = kv;
    this.node = parsed.node;
    this.subjectPrefix = parsed.subjectPrefix ?? `sessionvisor.node.${parsed.node}`;
    this.heartbeatMs = parsed.heartbeatMs;
    this.deadAfterMs = parsed.deadAfterMs ?? parsed.heartbeatMs * 3;
    this.sessions = parsed.sessions ?? (() => 0);
    this.full = parsed.full ?? (() => false);
    this.view = new LivenessView(this.deadAfterMs);
    this.watcher = watcher;
  }

  /**
   * Joins: writes this node's entry, reads the bucket up to that entry (so `members()` is a
   * whole view when this resolves), then heartbeats until `leave()` or `close()`.
   */
  static async join(connection: ClusterConnection, options: MembershipOptions): Promise<Membership> {
    const parsed = parseOptions(OptionsSchema, options, "membership");
    const deadAfterMs = parsed.deadAfterMs ?? parsed.heartbeatMs * 3;
    const kv = await openTtlBucket(connection, parsed.bucket, {
      ttlMs: parsed.bucketTtlMs ?? Math.max(60_000, deadAfterMs),
      requireTtl: false,
    });
    let watcher: QueuedIterator<KvWatchEntry>;
    try {
      watcher = await kv.watch();
    } catch (error) {
      throw new ClusterUnavailableError(
        "request_failed",
        `cannot watch the bucket ${parsed.bucket}: ${messageOf(error)}`,
        error,
      );
    }
    const membership = new Membership(kv, parsed, watcher);
    try {
      await membership.start(Math.max(5000, connection.requestTimeoutMs * 2));
    } catch (error) {
      await membership.close();
      throw error;
    }
    return membership;
  }

  private async start(warmUpTimeoutMs: number): Promise<void> {
    const entry = encodeMemberEntry(this.entry()); // a bad `sessions` callback fails the join as itself
    let joinRevision: number;
    try {
      joinRevision = await this.kv.put(this.node, entry);
    } catch (error) {
      throw new ClusterUnavailableError(
        "request_failed",
        `cannot write this node's entry: ${messageOf(error)}`,
        error,
      );
    }
    // Until our own join entry comes back through the watch, what we have seen is a partial
    // snapshot: changes are applied silently, so stale entries of long-dead nodes are never
    // reported up and then at once down.
    let warm = false;
    let markWarm: () => void = () => undefined;
    const warmed = new Promise<void>((resolve) => {
      markWarm = resolve;
    });
    this.watching = (async () => {
      for await (const entry of this.watcher) {
        const changes = this.view.observe({
          node: entry.key,
          createdMs: entry.created.getTime(),
          deleted: entry.operation !== "PUT",
          entry: entry.operation === "PUT" ? decodeMemberEntry(entry.value) : undefined,
        });
        if (warm) {
          for (const change of changes) this.emit(change);
        } else if (entry.key === this.node && entry.revision >= joinRevision) {
          warm = true;
          markWarm();
        }
      }
    })().catch((error: unknown) => {
      if (!this.closed) this.emit({ type: "watch_failed", error: asError(error) });
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ClusterUnavailableError(
              "request_failed",
              "this node's own entry did not come back through the watch",
            ),
          ),
        warmUpTimeoutMs,
      );
    });
    try {
      await Promise.race([warmed, timedOut]);
    } finally {
      clearTimeout(timer);
    }
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  private entry(): MemberEntry {
    const sessions = this.sessions();
    if (!Number.isSafeInteger(sessions) || sessions < 0) {
      throw new InvalidArgumentError(
        "membership.sessions",
        `answered ${String(sessions)}: expected a whole number >= 0`,
      );
    }
    return {
      node: this.node,
      subjectPrefix: this.subjectPrefix,
      sessions,
      rssMb: Math.round(process.memoryUsage.rss() / 2 ** 20),
      ...(this.full() ? { full: true } : {}),
      startedAt: this.startedAt,
    };
  }

  private heartbeat(): void {
    // One at a time: a slow server must not pile up puts; the next tick tries again.
    if (this.heartbeatInFlight || this.closed) return;
    this.heartbeatInFlight = Promise.resolve()
      // Inside the chain: a `sessions` callback that throws is a failed heartbeat, not a crash.
      .then(() => this.kv.put(this.node, encodeMemberEntry(this.entry())))
      .then(
        () => undefined,
        (error: unknown) => {
          if (!this.closed) this.emit({ type: "heartbeat_failed", error: asError(error) });
        },
      )
      .finally(() => {
        this.heartbeatInFlight = undefined;
      });
  }

  /** The live members (this node included), by node id, with the load of their last heartbeat. */
  members(): ClusterMember[] {
    return this.view.members();
  }

  /** One live member, or undefined when it is down or unknown. */
  member(node: string): ClusterMember | undefined {
    return this.view.member(node);
  }

  /**
   * Calls `listener` with every change from now on (members() is the view so far). Returns a
   * function that stops the calls. A listener that throws does not stop the others.
   */
  watch(listener: MembershipListener): () => void {
    if (this.closed) throw new ClusterClosedError("membership");
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  private emit(event: MembershipEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A listener's bug is its own; the membership goes on.
      }
    }
  }

  /** Leaves cleanly: deletes this node's entry, which every other member sees at once. */
  async leave(): Promise<void> {
    if (this.closed) return;
    await this.stop();
    try {
      await this.kv.delete(this.node);
    } catch (error) {
      throw new ClusterUnavailableError(
        "request_failed",
        `cannot delete this node's entry: ${messageOf(error)}`,
        error,
      );
    }
  }

  /**
   * Stops heartbeating and watching without deleting the entry: the others see this node go
   * silent and report it down within their bound (what a crash looks like to them).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.stop();
  }

  private async stop(): Promise<void> {
    this.closed = true;
    clearInterval(this.heartbeatTimer);
    this.listeners.clear();
    this.watcher.stop();
    await this.heartbeatInFlight;
    await this.watching;
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
