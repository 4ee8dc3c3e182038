import type { ClusterMember, MemberEntry } from "./member-entry.js";

/**
 * Why a member went down: it deleted its key (a clean leave), stopped renewing it, or its key
 * was written by a new start of the node under the same id (`restarted`: whatever the old run
 * held or had in flight is gone, even if the others never saw it fall silent).
 */
export type MemberDownReason = "left" | "silent" | "restarted";

export type LivenessChange =
  | { type: "member_up"; member: ClusterMember }
  | { type: "member_down"; member: ClusterMember; reason: MemberDownReason };

/** One entry of the `nodes` bucket as the watch delivered it. */
export interface Sighting {
  node: string;
  /** The server's time of the write (ms since the epoch). */
  createdMs: number;
  /** A delete or purge (a clean leave); `entry` is then absent. */
  deleted: boolean;
  entry?: MemberEntry | undefined;
}

interface Known {
  member: ClusterMember;
  live: boolean;
}

/**
 * Who is alive, judged only by the NATS server's timestamps — never by comparing this
 * machine's clock with another's.
 *
 * Every KV entry carries the time the server stored it. The newest timestamp seen stands for
 * "the server's now" (every node's own heartbeats keep it moving while it is connected). A node
 * is live while its last heartbeat is at most `deadAfterMs` older than that. Because the
 * entries arrive in stream order from one server, the comparison uses one clock only.
 *
 * The bound: a node whose last heartbeat was stored at server time T is reported down by the
 * first entry stored after T + deadAfterMs that an observer sees; the observer's own heartbeat
 * is such an entry at most one heartbeat interval later. So an observer that is itself
 * connected reports the silent node within deadAfterMs + its heartbeatMs (+ delivery time) of
 * T. An observer cut off from NATS sees no new entries and judges no one; its own leases lapse
 * meanwhile, which is what protects the sessions.
 */
export class LivenessView {
  private serverNowMs = Number.NEGATIVE_INFINITY;
  private readonly known = new Map<string, Known>();

  constructor(private readonly deadAfterMs: number) {}

  /** Applies one entry; returns the members that came up or went down because of it, in order. */
  observe(sighting: Sighting): LivenessChange[] {
    this.serverNowMs = Math.max(this.serverNowMs, sighting.createdMs);
    const changes: LivenessChange[] = [];
    const previous = this.known.get(sighting.node);
    if (sighting.deleted) {
      this.known.delete(sighting.node);
      if (previous?.live) changes.push({ type: "member_down", member: previous.member, reason: "left" });
    } else if (sighting.entry) {
      const member: ClusterMember = {
        ...sighting.entry,
        node: sighting.node,
        lastSeen: new Date(sighting.createdMs),
      };
      // A new start of the node (its start time differs) ends the run we knew: down, then up.
      const restarted = previous?.live === true && previous.member.startedAt !== member.startedAt;
      if (restarted) changes.push({ type: "member_down", member: previous.member, reason: "restarted" });
      this.known.set(sighting.node, { member, live: restarted ? false : (previous?.live ?? false) });
    }
    for (const [node, known] of this.known) {
      const age = this.serverNowMs - known.member.lastSeen.getTime();
      const live = age <= this.deadAfterMs;
      if (live && !known.live) changes.push({ type: "member_up", member: known.member });
      if (!live && known.live) changes.push({ type: "member_down", member: known.member, reason: "silent" });
      known.live = live;
      // A node silent for long is forgotten (its key expires from the bucket too), so nodes
      // that come and go under fresh ids do not pile up here.
      if (!live && age > this.deadAfterMs * 10) this.known.delete(node);
    }
    return changes;
  }

  /** The live members, by node id. */
  members(): ClusterMember[] {
    return [...this.known.values()]
      .filter((known) => known.live)
      .map((known) => known.member)
      .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  }

  member(node: string): ClusterMember | undefined {
    const known = this.known.get(node);
    return known?.live ? known.member : undefined;
  }
}
