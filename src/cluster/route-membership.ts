import type { Membership } from "./membership.js";
import type { NatsRouter } from "./nats-router.js";
import { NodeDownError } from "./route-errors.js";

const ROUTABLE_NODE = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Makes `membership` the router's failure detector: a member reported down (silent past the
 * membership's bound, or gone by a clean leave) is `nodeDown` on the router with a NodeDownError
 * `member_down` whose detail says which, and a member seen (again) is `nodeUp`. A node's
 * membership id must be its runtime's node name for this to find its pids. Returns the unwatch.
 */
export function followMembership(router: NatsRouter, membership: Pick<Membership, "watch">): () => void {
  return membership.watch((event) => {
    if (event.type !== "member_up" && event.type !== "member_down") return;
    const node = event.member.node;
    // Ids longer than a runtime's node name can be are no runtime's: none of their pids exist.
    if (node === router.node || !ROUTABLE_NODE.test(node)) return;
    if (event.type === "member_up") router.nodeUp(node);
    else router.nodeDown(node, new NodeDownError(node, "member_down", event.reason));
  });
}
