import { createHash } from "node:crypto";
import type { ClusterMember } from "./member-entry.js";

/**
 * Weighted rendezvous hashing: every node computes the same order of the live nodes for a
 * session, without talking to the others, so that the sessions of a dead node spread over the
 * survivors (each session's first choice claims it; the next ones try only later, as a
 * fallback). A node's weight falls with its load, so a busy node is first for fewer sessions.
 */
export function rendezvousOrder(
  sessionId: string,
  members: readonly Pick<ClusterMember, "node" | "sessions" | "full">[],
): string[] {
  // Full nodes (see MemberEntry.full) come after every other, in their own order.
  return members
    .map((member) => ({
      node: member.node,
      full: member.full === true,
      score: score(sessionId, member.node, member.sessions),
    }))
    .sort((a, b) => Number(a.full) - Number(b.full) || b.score - a.score || (a.node < b.node ? -1 : 1))
    .map((entry) => entry.node);
}

function score(sessionId: string, node: string, sessions: number): number {
  const digest = createHash("sha256").update(`${sessionId}\u0000${node}`).digest();
  // A uniform number in (0, 1) from 52 bits of the hash.
  const u = (Number(digest.readBigUInt64BE(0) >> 12n) + 0.5) / 2 ** 52;
  const weight = 1 / (1 + sessions);
  return weight / -Math.log(u);
}

/**
 * The least loaded of the live nodes for a new session: its reported sessions plus what was
 * placed on it since that report (so that a burst of creations does not all land on the node
 * that was idle at its last heartbeat). Ties go to a random one of them. A full node is chosen
 * only when every node is full.
 */
export class LoadPlacement {
  private readonly placed = new Map<string, { lastSeen: number; count: number }>();

  choose(members: readonly ClusterMember[], exclude: ReadonlySet<string> = new Set()): string | undefined {
    let best: string[] = [];
    let bestLoad = Number.POSITIVE_INFINITY;
    const open = members.filter((member) => !exclude.has(member.node));
    const roomy = open.filter((member) => member.full !== true);
    for (const member of roomy.length > 0 ? roomy : open) {
      const load = member.sessions + this.pending(member);
      if (load < bestLoad) {
        best = [member.node];
        bestLoad = load;
      } else if (load === bestLoad) best.push(member.node);
    }
    const chosen = best[Math.floor(Math.random() * best.length)];
    if (chosen !== undefined) {
      const member = members.find((m) => m.node === chosen) as ClusterMember;
      this.placed.set(chosen, { lastSeen: member.lastSeen.getTime(), count: this.pending(member) + 1 });
    }
    return chosen;
  }

  /** Placed since the member's last heartbeat (a newer heartbeat counts them already). */
  private pending(member: ClusterMember): number {
    const placed = this.placed.get(member.node);
    return placed && placed.lastSeen === member.lastSeen.getTime() ? placed.count : 0;
  }
}
