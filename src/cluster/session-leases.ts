import { performance } from "node:perf_hooks";
import type { KV } from "@nats-io/kv";
import { z } from "zod";
import type { FenceSource } from "../store/index.js";
import { ClusterClosedError, ClusterUnavailableError, SessionOwnedElsewhereError } from "./errors.js";
import { HeldLease, type LeaseLossReason } from "./held-lease.js";
import { isRevisionConflict, openTtlBucket } from "./kv-bucket.js";
import { encodeLeaseEntry, type LeaseOwner, ownerOf } from "./lease-entry.js";
import { type ClusterConnection, messageOf } from "./nats-connection.js";
import { assertLeaseKey, BUCKET_PATTERN, NODE_ID_PATTERN, parseOptions } from "./options.js";

export const DEFAULT_LEASES_BUCKET = "sessionvisor_session_owner";
export const DEFAULT_LEASE_TTL_MS = 10_000;

/** Called synchronously the moment a lease is lost: stop that session's tree now. */
export type LeaseLostListener = (sessionId: string, fence: number, reason: LeaseLossReason) => void;

export interface SessionLeasesOptions {
  /** This node's id, written as the owner: 1-128 letters, digits, '_' or '-'. */
  node: string;
  /** The KV bucket of the leases. Default `sessionvisor_session_owner`. */
  bucket?: string;
  /**
   * The lease's TTL, which is the bucket's max_age (nats-server before 2.11 has no per-key TTL).
   * Every node must use the same value: a bucket with another TTL is refused. Default 10 000 ms.
   */
  leaseTtlMs?: number;
  /** How often a held lease is renewed. Default leaseTtlMs / 3. */
  renewEveryMs?: number;
  /**
   * How long before the key could expire the holder gives the lease up (clock-rate drift between
   * this machine and the NATS server, and the time to stop a session). Default leaseTtlMs / 5.
   */
  safetyMarginMs?: number;
  /** How often a claim that waits (`waitMs`) tries again. Default leaseTtlMs / 10. */
  pollMs?: number;
  /** Called synchronously when a held lease is lost (not when it is released). */
  onLost?: LeaseLostListener;
  /** A monotonic clock in ms (tests). Default performance.now. */
  now?: () => number;
}

export interface ClaimOptions {
  /**
   * How long to wait for another owner's lease to go (released, or expired because its node is
   * dead). Default 0: refuse at once. A dead owner's key expires at most leaseTtlMs after its
   * last renewal, so leaseTtlMs + pollMs is enough to take over from a dead node.
   */
  waitMs?: number;
}

const OptionsSchema = z
  .object({
    node: z.string().regex(NODE_ID_PATTERN, "must be 1-128 letters, digits, '_' or '-'"),
    bucket: z
      .string()
      .regex(BUCKET_PATTERN, "must be 1-64 letters, digits, '_' or '-'")
      .default(DEFAULT_LEASES_BUCKET),
    leaseTtlMs: z.number().int().min(100).default(DEFAULT_LEASE_TTL_MS),
    renewEveryMs: z.number().int().positive().optional(),
    safetyMarginMs: z.number().int().positive().optional(),
    pollMs: z.number().int().positive().optional(),
    onLost: z
      .custom<LeaseLostListener>((value) => typeof value === "function", "must be a function")
      .optional(),
    now: z.custom<() => number>((value) => typeof value === "function", "must be a function").optional(),
  })
  .strict()
  .superRefine((options, ctx) => {
    const renewEveryMs = options.renewEveryMs ?? Math.floor(options.leaseTtlMs / 3);
    const safetyMarginMs = options.safetyMarginMs ?? Math.floor(options.leaseTtlMs / 5);
    // A renewal must have a chance to land before the holder stops trusting its lease.
    if (renewEveryMs + safetyMarginMs >= options.leaseTtlMs) {
      ctx.addIssue({
        code: "custom",
        path: ["renewEveryMs"],
        message: "renewEveryMs + safetyMarginMs must be below leaseTtlMs",
      });
    }
  });

const ClaimSchema = z.object({ waitMs: z.number().int().nonnegative().default(0) }).strict();

/**
 * Ownership of sessions by exactly one node, as leases in a NATS KV bucket whose TTL is the
 * lease's:
 * - claim = `create` (refused while another lease lives); its revision is the FENCE, constant
 *   for the whole ownership and higher than any earlier owner's (revisions are the stream's
 *   sequence numbers);
 * - renew = `update` naming the latest revision, every renewEveryMs;
 * - release = `delete` naming the latest revision, so another node can claim at once.
 *
 * The holder trusts a lease until validUntil (see HeldLease), and when no renewal is confirmed
 * by then it calls `onLost` from a local timer — before the key can expire on the server and
 * let another node claim. `fenceOf` is what every durable write of the session carries; the
 * store refuses a stale one, which covers a holder paused past its validity (a GC pause, a
 * stopped process) whose timer could not fire in time.
 */
export class SessionLeases implements FenceSource {
  readonly node: string;
  readonly leaseTtlMs: number;
  readonly renewEveryMs: number;
  readonly safetyMarginMs: number;
  readonly pollMs: number;
  private readonly connection: ClusterConnection;
  private readonly kv: KV;
  private readonly onLost: LeaseLostListener | undefined;
  private readonly now: () => number;
  private readonly leases = new Map<string, HeldLease>();
  private readonly claiming = new Map<string, Promise<number>>();
  private closed = false;

  private constructor(connection: ClusterConnection, kv: KV, parsed: z.output<typeof OptionsSchema>) {
    this.connection = connection;
    this.kv = kv;
    this.node = parsed.node;
    this.leaseTtlMs = parsed.leaseTtlMs;
    this.renewEveryMs = parsed.renewEveryMs ?? Math.floor(parsed.leaseTtlMs / 3);
    this.safetyMarginMs = parsed.safetyMarginMs ?? Math.floor(parsed.leaseTtlMs / 5);
    this.pollMs = parsed.pollMs ?? Math.max(10, Math.floor(parsed.leaseTtlMs / 10));
    this.onLost = parsed.onLost;
    this.now = parsed.now ?? (() => performance.now());
  }

  /** Opens (creating when absent) the leases bucket; a bucket with another TTL is refused. */
  static async open(connection: ClusterConnection, options: SessionLeasesOptions): Promise<SessionLeases> {
    const parsed = parseOptions(OptionsSchema, options, "leases");
    const kv = await openTtlBucket(connection, parsed.bucket, { ttlMs: parsed.leaseTtlMs, requireTtl: true });
    return new SessionLeases(connection, kv, parsed);
  }

  /**
   * Claims a session for this node and returns the fence. Already held here: its fence. Held by
   * a live lease elsewhere: SessionOwnedElsewhereError naming the owner, at once or after
   * `waitMs` of trying again.
   */
  async claim(sessionId: string, options: ClaimOptions = {}): Promise<number> {
    this.assertOpen();
    assertLeaseKey(sessionId);
    const { waitMs } = parseOptions(ClaimSchema, options, "claim");
    const held = this.leases.get(sessionId);
    if (held?.isValid(this.now())) return held.fence;
    // Past its validity but its loss timer has not run yet (a blocked event loop): it is lost
    // now, and said so before any new claim, so the old ownership's end comes before the new one.
    if (held) this.lose(held, "expired");
    // One claim at a time per session on this node: two would race each other on the server.
    const pending = this.claiming.get(sessionId);
    if (pending) return pending;
    const claim = this.claimLoop(sessionId, waitMs).finally(() => this.claiming.delete(sessionId));
    this.claiming.set(sessionId, claim);
    return claim;
  }

  private async claimLoop(sessionId: string, waitMs: number): Promise<number> {
    const deadline = this.now() + waitMs;
    let vanished = 0;
    for (;;) {
      const sentAt = this.now();
      let fence: number;
      try {
        fence = await this.kv.create(sessionId, encodeLeaseEntry({ node: this.node }));
      } catch (error) {
        if (!isRevisionConflict(this.connection, error))
          throw this.unavailable(`claim session ${sessionId}`, error);
        // Held by someone (perhaps a dead node whose key has not expired yet: it may not be
        // taken before it expires, since its holder may still be running the session).
        const current = await this.owner(sessionId);
        // Gone since (released or expired): try again at once, a few times, then as a wait.
        if (current === undefined && ++vanished <= 3) continue;
        if (this.now() + this.pollMs > deadline) {
          if (current) throw new SessionOwnedElsewhereError(sessionId, current.node, current.fence);
          throw this.unavailable(`claim session ${sessionId}`, new Error("every claim raced another writer"));
        }
        await sleep(this.pollMs);
        this.assertOpen();
        continue;
      }
      if (this.closed) {
        await this.deleteQuietly(sessionId, fence);
        throw new ClusterClosedError("session leases");
      }
      const lease = new HeldLease(sessionId, fence, sentAt + this.leaseTtlMs - this.safetyMarginMs);
      if (!lease.isValid(this.now())) {
        // The answer came back after the lease could be trusted: give it back unused.
        await this.deleteQuietly(sessionId, fence);
        throw this.unavailable(
          `claim session ${sessionId}`,
          new Error("the claim was confirmed too late to be used"),
        );
      }
      this.leases.set(sessionId, lease);
      this.armLossTimer(lease);
      this.scheduleRenew(lease, this.renewEveryMs);
      return fence;
    }
  }

  /**
   * The fence of a lease this node holds and may still trust, else undefined. Checked against
   * the clock on every call, so a write never carries the fence of a lease past its validity
   * even when the loss timer has not fired yet (a blocked event loop).
   */
  fenceOf(sessionId: string): number | undefined {
    const lease = this.leases.get(sessionId);
    return lease?.isValid(this.now()) ? lease.fence : undefined;
  }

  /** The sessions whose leases this node holds now. */
  held(): string[] {
    const now = this.now();
    return [...this.leases.values()].filter((lease) => lease.isValid(now)).map((lease) => lease.sessionId);
  }

  /** Who holds a session's lease now, read from the bucket; undefined when nobody does. */
  async owner(sessionId: string): Promise<LeaseOwner | undefined> {
    assertLeaseKey(sessionId);
    let entry: Awaited<ReturnType<KV["get"]>>;
    try {
      entry = await this.kv.get(sessionId);
    } catch (error) {
      throw this.unavailable(`read the owner of session ${sessionId}`, error);
    }
    if (entry === null || entry.operation !== "PUT") return undefined;
    return ownerOf(entry.value, entry.revision);
  }

  /**
   * Gives a held lease up: the key is deleted at once, so another node can claim it without
   * waiting for the TTL. Stop the session first — from here on this node does not own it.
   * Not held here: nothing happens.
   */
  async release(sessionId: string): Promise<void> {
    assertLeaseKey(sessionId);
    const lease = this.leases.get(sessionId);
    if (!lease) return;
    this.leases.delete(sessionId);
    const wasHeld = lease.state === "held";
    lease.state = "released";
    lease.clearTimers();
    // A renewal in flight moves the revision: delete at the one it lands on.
    await lease.renewing;
    if (!wasHeld) return;
    try {
      await this.kv.delete(sessionId, { previousSeq: lease.revision });
    } catch (error) {
      if (isRevisionConflict(this.connection, error)) return; // no longer ours anyway
      throw this.unavailable(
        `release session ${sessionId} (its key expires by itself within ${this.leaseTtlMs} ms)`,
        error,
      );
    }
  }

  /**
   * Closes the leases. By default every held lease is released (stop the sessions first).
   * With `release: false` the keys are left to expire — what a crash looks like to the others —
   * and `onLost` is called for each held lease, since this node stops renewing it.
   */
  async close(options: { release?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const leases = [...this.leases.values()];
    if (options.release ?? true) {
      await Promise.allSettled(leases.map((lease) => this.release(lease.sessionId)));
      return;
    }
    for (const lease of leases) this.lose(lease, "closed");
    await Promise.allSettled(leases.map((lease) => lease.renewing));
  }

  private scheduleRenew(lease: HeldLease, delayMs: number): void {
    clearTimeout(lease.renewTimer);
    lease.renewTimer = setTimeout(() => {
      lease.renewTimer = undefined;
      lease.renewing = this.renew(lease)
        // Nothing is expected to throw here; if it did, the loss timer still ends the lease.
        .catch(() => undefined)
        .finally(() => {
          lease.renewing = undefined;
        });
    }, delayMs);
  }

  private async renew(lease: HeldLease): Promise<void> {
    if (lease.state !== "held") return;
    const sentAt = this.now();
    let revision: number;
    try {
      revision = await this.kv.update(
        lease.sessionId,
        encodeLeaseEntry({ node: this.node, fence: lease.fence }),
        lease.revision,
        // A renewal that has not landed within one interval is retried rather than waited for.
        Math.min(this.connection.requestTimeoutMs, this.renewEveryMs),
      );
    } catch (error) {
      if (lease.state !== "held") return;
      if (isRevisionConflict(this.connection, error)) {
        await this.resolveConflict(lease);
        return;
      }
      // Unconfirmed (timeout, connection down): try again soon; the loss timer decides.
      this.scheduleRenew(lease, Math.max(10, Math.floor(this.renewEveryMs / 4)));
      return;
    }
    // Read again: the lease may have been released or lost while the renewal was in flight.
    const state = lease.currentState();
    if (state === "released") {
      lease.revision = revision; // the release waits for this and deletes at it
      return;
    }
    if (state === "lost") {
      // Confirmed after the lease was given up locally: hand the key back so the next owner
      // need not wait out the TTL (unless closing without release, which leaves keys to expire).
      if (!this.closed) await this.deleteQuietly(lease.sessionId, revision);
      return;
    }
    lease.revision = revision;
    lease.validUntil = Math.max(lease.validUntil, sentAt + this.leaseTtlMs - this.safetyMarginMs);
    this.armLossTimer(lease);
    this.scheduleRenew(lease, this.renewEveryMs);
  }

  /**
   * A renewal was refused because the key's revision moved. An earlier renewal that timed out
   * here may still have landed: if the key holds our own fence, nobody else has claimed it, so
   * we adopt its revision and renew again. Otherwise the session is someone else's now.
   */
  private async resolveConflict(lease: HeldLease): Promise<void> {
    let entry: Awaited<ReturnType<KV["get"]>>;
    try {
      entry = await this.kv.get(lease.sessionId);
    } catch {
      if (lease.state === "held") this.scheduleRenew(lease, Math.max(10, Math.floor(this.renewEveryMs / 4)));
      return;
    }
    if (lease.state !== "held") return;
    const owner = entry?.operation === "PUT" ? ownerOf(entry.value, entry.revision) : undefined;
    if (entry && owner?.node === this.node && owner.fence === lease.fence) {
      lease.revision = entry.revision;
      this.scheduleRenew(lease, 0);
      return;
    }
    this.lose(lease, "taken");
  }

  private armLossTimer(lease: HeldLease): void {
    clearTimeout(lease.lossTimer);
    lease.lossTimer = setTimeout(
      () => {
        lease.lossTimer = undefined;
        if (lease.state !== "held") return;
        if (this.now() < lease.validUntil) this.armLossTimer(lease);
        else this.lose(lease, "expired");
      },
      Math.max(0, lease.validUntil - this.now()),
    );
  }

  /** Gives a lease up locally and tells the node at once, so it stops the session's tree. */
  private lose(lease: HeldLease, reason: LeaseLossReason): void {
    if (lease.state !== "held") return;
    lease.state = "lost";
    lease.clearTimers();
    if (this.leases.get(lease.sessionId) === lease) this.leases.delete(lease.sessionId);
    try {
      this.onLost?.(lease.sessionId, lease.fence, reason);
    } catch {
      // The listener's failure cannot un-lose the lease; the store's fence check still holds.
    }
  }

  private async deleteQuietly(sessionId: string, revision: number): Promise<void> {
    try {
      await this.kv.delete(sessionId, { previousSeq: revision });
    } catch {
      // Best effort: the key expires within the TTL anyway.
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new ClusterClosedError("session leases");
  }

  private unavailable(what: string, error: unknown): ClusterUnavailableError {
    return new ClusterUnavailableError("request_failed", `cannot ${what}: ${messageOf(error)}`, error);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
