import type { KV } from "@nats-io/kv";
import type { Logger } from "../runtime/index.js";
import type { SessionStore } from "../store/index.js";
import { SessionOwnedElsewhereError } from "./errors.js";
import { distinctKeys } from "./kv-keys.js";
import { ownerOf } from "./lease-entry.js";
import type { ClusterMember } from "./member-entry.js";
import { rendezvousOrder } from "./placement.js";
import type { SessionLeases } from "./session-leases.js";

export interface FailoverDeps {
  node: string;
  leases: SessionLeases;
  /** The leases bucket, read to learn which sessions a dead node held. */
  leasesKv: KV;
  store: SessionStore;
  /** The live members, this node included. */
  members: () => ClusterMember[];
  /** Starts a session this node has just claimed; a failure releases the claim. */
  adopt: (sessionId: string, how: "failover", claimedAt: number) => Promise<void>;
  logger: Logger;
}

/**
 * Takes over the sessions of a node that went down. Right away (before the dead node's keys
 * expire) it reads which sessions that node's leases name; each goes to the first live node of
 * its rendezvous order (weighted by load), which claims it as soon as the old key is gone and
 * adopts it. The next nodes of the order try later, one stagger each, in case the first dies
 * too; KV create is atomic, so exactly one claim succeeds. Sessions without any lease (their
 * owner released them, or its keys expired before anyone read them) are found in the store a
 * lease TTL later and placed the same way.
 */
export class Failover {
  private closed = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly taking = new Set<string>();
  readonly staggerMs: number;

  constructor(private readonly deps: FailoverDeps) {
    this.staggerMs = Math.max(50, Math.floor(deps.leases.leaseTtlMs / 2));
  }

  /** A member is down: take its sessions (and later, any ownerless ones). */
  memberDown(dead: string, reason: string): void {
    if (this.closed || dead === this.deps.node) return;
    void this.takeLeasesOf(dead).catch((error: unknown) =>
      this.deps.logger.warn(
        { event: "cluster_failover_failed", node: dead, err: error },
        `could not read the sessions of node ${dead}`,
      ),
    );
    // A clean leave released its keys already; a silent death's keys may expire unread.
    const delay = reason === "left" ? 0 : this.deps.leases.leaseTtlMs + this.deps.leases.pollMs;
    this.later(delay, () =>
      this.takeOrphans().catch((error: unknown) =>
        this.deps.logger.warn({ event: "cluster_orphan_scan_failed", err: error }, "orphan scan failed"),
      ),
    );
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private async takeLeasesOf(dead: string): Promise<void> {
    const { leasesKv } = this.deps;
    const ids: string[] = [];
    for (const key of await distinctKeys(leasesKv)) {
      const entry = await leasesKv.get(key);
      if (entry?.operation === "PUT" && ownerOf(entry.value, entry.revision).node === dead) ids.push(key);
    }
    const orders = spreadOrders(
      ids.sort(),
      this.deps.members().filter((m) => m.node !== dead),
    );
    await Promise.all(ids.map((id) => this.take(id, dead, orders.get(id) ?? [])));
  }

  /** Sessions the store holds live whose lease nobody holds. */
  private async takeOrphans(): Promise<void> {
    if (this.closed) return;
    const stored = await this.deps.store.listSessions();
    const live = stored.filter((s) => s.record.status !== "terminated").map((s) => s.id);
    const orphans: string[] = [];
    for (const id of live) {
      if (this.deps.leases.fenceOf(id) !== undefined) continue;
      if (!(await this.deps.leases.owner(id))) orphans.push(id);
    }
    const orders = spreadOrders(orphans.sort(), this.deps.members());
    await Promise.all(orphans.map((id) => this.take(id, undefined, orders.get(id) ?? [])));
  }

  /**
   * One session of `dead` (undefined: of nobody): claimed by whichever node's turn comes first,
   * in `order` (the first node at once, each next one a stagger later).
   */
  private async take(id: string, dead: string | undefined, order: readonly string[]): Promise<void> {
    if (this.taking.has(id)) return;
    this.taking.add(id);
    try {
      const rank = order.indexOf(this.deps.node);
      if (rank < 0) return;
      await this.sleep(rank * this.staggerMs);
      const { leases } = this.deps;
      // The dead node's key expires at most a TTL after its last renewal.
      const deadline = Date.now() + 2 * leases.leaseTtlMs + rank * this.staggerMs;
      while (!this.closed && Date.now() < deadline) {
        if (leases.fenceOf(id) !== undefined) return; // activated here meanwhile
        const owner = await leases.owner(id);
        if (owner && owner.node !== dead) return; // another node has it
        if (!owner) {
          try {
            await leases.claim(id);
          } catch (error) {
            if (error instanceof SessionOwnedElsewhereError) return;
            throw error;
          }
          await this.deps.adopt(id, "failover", Date.now());
          return;
        }
        await this.sleep(leases.pollMs);
      }
    } catch (error) {
      this.deps.logger.warn(
        { event: "cluster_takeover_failed", sessionId: id, err: error },
        `could not take over session ${id}`,
      );
    } finally {
      this.taking.delete(id);
    }
  }

  private later(ms: number, run: () => Promise<void>): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void run();
    }, ms);
    this.timers.add(timer);
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => this.later(ms, async () => resolve()));
  }
}

/**
 * The order in which the live nodes try to take each of these sessions. Every node computes the
 * same from the same view: the sessions in id order each go first to the least loaded node
 * (its reported sessions plus those this spread gave it so far; ties by the session's
 * rendezvous order), so a dead node's sessions spread evenly; the next nodes of its rendezvous
 * order follow as fallbacks. Nodes whose views differ a little only make a fallback wait.
 */
export function spreadOrders(
  ids: readonly string[],
  members: readonly Pick<ClusterMember, "node" | "sessions" | "full">[],
): Map<string, string[]> {
  const load = new Map(members.map((m) => [m.node, m.sessions]));
  // A full node is the first choice only when every node is full.
  const full = new Set(members.filter((m) => m.full === true).map((m) => m.node));
  const allFull = full.size === members.length;
  const orders = new Map<string, string[]>();
  for (const id of ids) {
    const order = rendezvousOrder(id, members);
    let first: string | undefined;
    for (const node of order) {
      if (full.has(node) && !allFull) continue;
      if (first === undefined || (load.get(node) ?? 0) < (load.get(first) ?? 0)) first = node;
    }
    if (first === undefined) continue;
    load.set(first, (load.get(first) ?? 0) + 1);
    orders.set(id, [first, ...order.filter((node) => node !== first)]);
  }
  return orders;
}
