// How a cluster places sessions without asking anyone: the takeover order of a dead node's
// sessions (the same on every node, spread by load) and the least-loaded choice for a new one.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { spreadOrders } from "../src/cluster/failover.js";
import { ClusterNode, clusterBuckets } from "../src/cluster/index.js";
import { LoadPlacement, rendezvousOrder } from "../src/cluster/placement.js";
import { InvalidArgumentError } from "../src/index.js";

const ids = Array.from({ length: 12 }, (_, i) => `session_${String(i).padStart(2, "0")}`);

describe("placement", () => {
  it("spreads a dead node's sessions evenly over equally loaded nodes, every node computing the same", () => {
    const members = [
      { node: "a", sessions: 0 },
      { node: "b", sessions: 0 },
      { node: "c", sessions: 0 },
    ];
    const orders = spreadOrders(ids, members);
    const again = spreadOrders([...ids].reverse().sort(), [...members].reverse());
    assert.deepEqual([...orders], [...again]);
    const firsts = ids.map((id) => orders.get(id)?.[0]);
    for (const node of ["a", "b", "c"]) assert.equal(firsts.filter((f) => f === node).length, 4);
    for (const id of ids) assert.deepEqual([...(orders.get(id) ?? [])].sort(), ["a", "b", "c"]);
  });

  it("gives a busier node fewer of them", () => {
    const orders = spreadOrders(ids, [
      { node: "a", sessions: 6 },
      { node: "b", sessions: 0 },
    ]);
    const firsts = ids.map((id) => orders.get(id)?.[0]);
    assert.equal(firsts.filter((f) => f === "b").length, 9);
    assert.equal(firsts.filter((f) => f === "a").length, 3);
  });

  it("rendezvous order does not depend on the order members are listed in", () => {
    const members = [
      { node: "a", sessions: 1 },
      { node: "b", sessions: 2 },
      { node: "c", sessions: 0 },
    ];
    for (const id of ids)
      assert.deepEqual(rendezvousOrder(id, members), rendezvousOrder(id, [...members].reverse()));
  });

  it("places new sessions on the least loaded node, counting those placed since its last heartbeat", () => {
    const lastSeen = new Date(0);
    const members = [
      { node: "a", sessions: 2, lastSeen, subjectPrefix: "x", rssMb: 1, startedAt: "" },
      { node: "b", sessions: 0, lastSeen, subjectPrefix: "x", rssMb: 1, startedAt: "" },
    ];
    const placement = new LoadPlacement();
    const chosen = [1, 2, 3, 4].map(() => placement.choose(members));
    assert.deepEqual(chosen.slice(0, 2), ["b", "b"]);
    assert.deepEqual([...chosen.slice(2)].sort(), ["a", "b"]);
  });
});

describe("placement with full nodes", () => {
  const member = (node: string, sessions: number, full?: boolean) => ({
    node,
    sessions,
    ...(full === undefined ? {} : { full }),
    subjectPrefix: `sv.${node}`,
    rssMb: 100,
    startedAt: "",
    lastSeen: new Date(0),
  });

  it("places a new session on a node that is not full, even a busier one", () => {
    const placement = new LoadPlacement();
    for (let i = 0; i < 20; i++) assert.equal(placement.choose([member("a", 0, true), member("b", 50)]), "b");
  });

  it("places on the least loaded of the full nodes when every node is full", () => {
    assert.equal(new LoadPlacement().choose([member("a", 3, true), member("b", 1, true)]), "b");
  });

  it("gives a dead node's sessions first to nodes that are not full, and puts full nodes last", () => {
    const members = [member("a", 0, true), member("b", 5), member("c", 5)];
    for (const order of spreadOrders(ids, members).values()) {
      assert.notEqual(order[0], "a");
      assert.equal(order.at(-1), "a");
    }
    for (const id of ids) assert.equal(rendezvousOrder(id, members).at(-1), "a");
  });
});

describe("ClusterNode options", () => {
  it("are checked before anything connects", async () => {
    await assert.rejects(
      ClusterNode.start({ node: "has space", store: {} }),
      (error: unknown) => error instanceof InvalidArgumentError && /cluster node\.node/.test(error.message),
    );
    await assert.rejects(
      ClusterNode.start({ node: "n", store: {}, leaseTtlMs: 10 }),
      (error: unknown) => error instanceof InvalidArgumentError && /leaseTtlMs/.test(error.message),
    );
    await assert.rejects(
      ClusterNode.start({ node: "n", store: {}, colour: "blue" } as never),
      (error: unknown) => error instanceof InvalidArgumentError && /colour/.test(error.message),
    );
  });
});

describe("cluster bucket names", () => {
  it("are the default names with the default prefix", () => {
    assert.deepEqual(clusterBuckets("sessionvisor"), {
      nodes: "sessionvisor_nodes",
      leases: "sessionvisor_session_owner",
    });
  });

  it("are named after any other prefix, its dots as underscores, unless given", () => {
    assert.deepEqual(clusterBuckets("acme.prod"), {
      nodes: "acme_prod_nodes",
      leases: "acme_prod_session_owner",
    });
    assert.deepEqual(clusterBuckets("acme.prod", { leases: "owners" }), {
      nodes: "acme_prod_nodes",
      leases: "owners",
    });
  });

  it("refuse a prefix too long to name a bucket, asking for the names", () => {
    assert.throws(
      () => clusterBuckets("p".repeat(60)),
      (error: unknown) => error instanceof InvalidArgumentError && /name the buckets/.test(error.message),
    );
  });
});
