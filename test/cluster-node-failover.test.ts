// Failover between cluster nodes in one process, on the real NATS and Postgres (lease TTL
// 1.5 s): a node that crashes (its connection cut, nothing released, nothing more written)
// has its sessions answer from the others with their acknowledged turns and the turn it had in
// flight marked interrupted; the survivors take them over by themselves, each exactly once;
// and a node cut off from NATS stops its session before another node's claim succeeds.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { type ClusterNode, type ClusterNodeEvent, NodeDownError } from "../src/cluster/index.js";
import { defaultProviders, NoProcError, type SessionEvent } from "../src/index.js";
import { ownershipViolations } from "./fixtures/cluster-node-checker.js";
import { startCluster, TTL_MS } from "./fixtures/cluster-node-support.js";
import { until } from "./support/cluster-turns.js";
import { TestSchemas } from "./support/postgres-test-db.js";
import { Echo } from "./support/servers.js";

const schemas = new TestSchemas();
after(() => schemas.dropAll());

/** Streams a word every 100 ms, so a long echo is a turn in flight for a while. */
const slow = { providers: defaultProviders({ chunkDelayMs: 100 }) };

/**
 * Activations stamped after `after`, strictly: a create answered in the same millisecond as the
 * crash or cut that follows it is stamped with that millisecond, and is no takeover.
 */
function activations(history: ClusterNodeEvent[], id: string, after: number) {
  return history.filter((e) => e.type === "session_activated" && e.sessionId === id && e.at > after);
}

describe("cluster node failover", () => {
  it("a crashed node's sessions answer from the others with their acknowledged turns, the turn in flight interrupted", {
    timeout: 90_000,
  }, async (t) => {
    const { nodes, history } = await startCluster(t, schemas, { system: slow });
    const [a, , victim] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await victim.system.createSession()).id);
    for (const [i, id] of ids.entries())
      assert.equal((await a.sessions.sendMessage(id, `echo kept ${i}`)).text, `kept ${i}`);
    const [first] = ids as [string];
    const seen: SessionEvent[] = [];
    const subscription = await a.sessions.subscribe(first, (event) => seen.push(event));
    t.after(() => subscription.unsubscribe());
    const long = `echo ${Array.from({ length: 60 }, (_, i) => `w${i}`).join(" ")}`;
    // Its node dies under it: the caller learns so from membership, not from a timeout.
    const inFlight = a.sessions.sendMessage(first, long).catch((error: unknown) => error);
    await until("the turn to stream", 10_000, async () =>
      seen.some((e) => e.type === "llm_delta") ? true : undefined,
    );

    const crashedAt = Date.now();
    await victim.abandon();
    const answered = await Promise.all(
      ids.map(async (id) => {
        const turns = await until(`session ${id} to answer`, 6 * TTL_MS, () => a.sessions.getHistory(id));
        return { id, turns, ms: Date.now() - crashedAt };
      }),
    );
    t.diagnostic(`answered after the crash in ${answered.map((r) => r.ms).join(", ")} ms (TTL ${TTL_MS} ms)`);
    for (const [i, { turns }] of answered.entries())
      assert.deepEqual(
        turns.slice(0, 2).map((turn) => [turn.content, turn.status]),
        [
          [`echo kept ${i}`, "complete"],
          [`kept ${i}`, "complete"],
        ],
      );
    const failed = await inFlight;
    assert.ok(failed instanceof NodeDownError && failed.node === victim.node, String(failed));
    const cut = answered[0]?.turns.at(-1);
    assert.deepEqual([cut?.content, cut?.status], [long, "interrupted"]);
    await until("turn_interrupted on the session's subject", 5000, async () =>
      seen.some((e) => e.type === "turn_interrupted") ? true : undefined,
    );
    for (const id of ids) {
      const taken = activations(history, id, crashedAt);
      assert.equal(taken.length, 1, `activations of ${id}: ${JSON.stringify(taken)}`);
      assert.notEqual(taken[0]?.node, victim.node);
    }
    assert.deepEqual(ownershipViolations(history, new Map([[victim.node, crashedAt]])), []);
    for (const { ms } of answered) assert.ok(ms < 4 * TTL_MS, `answered ${ms} ms after the crash`);
  });

  it("the survivors take a crashed node's sessions over by themselves, each once", {
    timeout: 90_000,
  }, async (t) => {
    const { nodes, history } = await startCluster(t, schemas);
    const [a, , victim] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await victim.system.createSession()).id);
    const crashedAt = Date.now();
    await victim.abandon();
    const owners = await until("every session to be taken over", 6 * TTL_MS, async () => {
      const taken = ids.map((id) => activations(history, id, crashedAt));
      return taken.every((list) => list.length > 0)
        ? taken.map((list) => list[0] as ClusterNodeEvent)
        : undefined;
    });
    const ms = owners.map((e) => e.at - crashedAt);
    const spread = owners.map((e) => e.node);
    t.diagnostic(`taken over after ${ms.join(", ")} ms by ${spread.join(", ")} (TTL ${TTL_MS} ms)`);
    assert.ok(owners.every((e) => e.type === "session_activated" && e.how === "failover"));
    assert.ok(spread.every((node) => node !== victim.node));
    // Spread by load: the two survivors own none, so each is first for half of them.
    for (const node of ["node0", "node1"])
      assert.ok(spread.filter((n) => n === node).length >= 2, `spread ${spread}`);
    for (const id of ids) assert.equal(activations(history, id, crashedAt).length, 1);
    assert.deepEqual(ownershipViolations(history, new Map([[victim.node, crashedAt]])), []);
    for (const id of ids) assert.equal((await a.sessions.getSession(id))?.status, "active");
  });

  it("a node cut off from NATS stops its session before another node's claim succeeds", {
    timeout: 90_000,
  }, async (t) => {
    const { nodes, history } = await startCluster(t, schemas);
    const [a, b] = nodes as [ClusterNode, ClusterNode];
    const { id } = await a.system.createSession();
    await a.system.sendMessage(id, "echo before");
    const supervisor = a.system.findSupervisor(id);
    assert.ok(supervisor);
    let stoppedAt: number | undefined;
    void a.runtime.whenExited(supervisor).then(() => {
      stoppedAt = Date.now();
    });
    const cutAt = Date.now();
    await a.connection.nc.close(); // a runs on, but can neither renew nor be reached
    assert.equal((await b.sessions.sendMessage(id, "echo after")).text, "after");
    const [claim] = activations(history, id, cutAt);
    assert.ok(claim && claim.node !== a.node, JSON.stringify(claim));
    const lost = history.find(
      (e) => e.type === "session_released" && e.node === a.node && e.sessionId === id,
    );
    assert.ok(lost && lost.type === "session_released" && lost.reason === "expired", JSON.stringify(lost));
    assert.ok(
      stoppedAt !== undefined && stoppedAt <= claim.at,
      `stopped at ${stoppedAt}, claimed at ${claim.at}`,
    );
    t.diagnostic(
      `lease lost ${lost.at - cutAt} ms after the cut, session stopped ${stoppedAt - cutAt} ms, claimed elsewhere ${claim.at - cutAt} ms`,
    );
    assert.equal(a.system.findSupervisor(id), undefined);
    assert.deepEqual(ownershipViolations(history, new Map()), []);
    assert.deepEqual(
      (await b.sessions.getHistory(id)).map((turn) => turn.content),
      ["echo before", "before", "echo after", "after"],
    );
  });

  it("a node that leaves cleanly releases its sessions, and they answer from the others", {
    timeout: 90_000,
  }, async (t) => {
    const { nodes, history } = await startCluster(t, schemas);
    const [a, , leaving] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    const { id } = await leaving.system.createSession();
    await a.sessions.sendMessage(id, "echo before");
    const leftAt = Date.now();
    await leaving.close();
    assert.ok(
      history.some((e) => e.type === "session_released" && e.node === leaving.node && e.reason === "closed"),
    );
    assert.equal((await a.sessions.ownerOf(id)) === leaving.node, false);
    assert.deepEqual(
      (await a.sessions.getHistory(id)).map((turn) => turn.content),
      ["echo before", "before"],
    );
    const [taken] = activations(history, id, leftAt);
    assert.ok(taken && taken.node !== leaving.node);
    t.diagnostic(`answered from ${taken.node} ${Date.now() - leftAt} ms after the leave`);
  });

  it("a turn in flight to a node that crashes and restarts at once under its name fails with NodeDownError (restarted)", {
    timeout: 90_000,
  }, async (t) => {
    const { nodes, startNode } = await startCluster(t, schemas, { system: slow });
    const [a, , victim] = nodes as [ClusterNode, ClusterNode, ClusterNode];
    const { id } = await victim.system.createSession();
    const seen: SessionEvent[] = [];
    const subscription = await a.sessions.subscribe(id, (event) => seen.push(event));
    t.after(() => subscription.unsubscribe());
    const long = `echo ${Array.from({ length: 60 }, (_, i) => `w${i}`).join(" ")}`;
    const startedAt = Date.now();
    const inFlight = a.sessions.sendMessage(id, long, { timeoutMs: 60_000 }).catch((error: unknown) => error);
    await until("the turn to stream", 10_000, async () =>
      seen.some((e) => e.type === "llm_delta") ? true : undefined,
    );
    // Back before the others could count three missed heartbeats: only its new start time tells.
    await victim.abandon();
    await startNode(victim.node);
    const failed = await inFlight;
    assert.ok(failed instanceof NodeDownError && failed.node === victim.node, String(failed));
    assert.match(failed.message, /restarted/);
    assert.ok(Date.now() - startedAt < 30_000, "it failed when the restart was seen, not at its timeout");
  });

  it("a pid of a node's earlier run finds no process after it restarts under the same name (OTP's creation)", {
    timeout: 90_000,
  }, async (t) => {
    const { nodes, startNode } = await startCluster(t, schemas, { count: 2 });
    const [caller, old] = nodes as [ClusterNode, ClusterNode];
    const kept = await old.runtime.spawn(new Echo());
    assert.equal(await caller.runtime.call(kept, { op: "echo", value: 1 }), 1);
    await old.abandon();
    const again = await startNode(old.node);
    // More processes than the earlier run had made when it spawned the kept one (numbered from 1,
    // as before, one of them would have taken its number and answered for it).
    for (let i = 0; i < 20; i++) await again.runtime.spawn(new Echo());
    const fresh = await again.runtime.spawn(new Echo());
    assert.ok(
      fresh.id > kept.id,
      `the new run numbers from above its earlier run (${fresh.id} > ${kept.id})`,
    );
    const deadline = Date.now() + 20_000;
    let failure: unknown;
    // Once the caller has seen the restart (calls to the old run fail NodeDownError until then).
    while (Date.now() < deadline) {
      failure = await caller.runtime
        .call(kept, { op: "echo", value: 2 }, 2000)
        .catch((error: unknown) => error);
      if (failure instanceof NoProcError) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(failure instanceof NoProcError, `the kept pid reached ${String(failure)}`);
    assert.equal(await caller.runtime.call(fresh, { op: "echo", value: 3 }), 3);
  });

  it("a node restarted under the same name waits out its earlier run's leases, then serves the sessions", {
    timeout: 90_000,
  }, async (t) => {
    const { nodes, history, startNode } = await startCluster(t, schemas, { count: 2 });
    const [, old] = nodes as [ClusterNode, ClusterNode];
    const { id } = await old.system.createSession();
    await old.system.sendMessage(id, "echo before");
    await old.abandon();
    const restartedAt = Date.now();
    const again = await startNode(old.node);
    assert.deepEqual(
      (await again.sessions.getHistory(id)).map((turn) => turn.content),
      ["echo before", "before"],
    );
    const [taken] = activations(history, id, restartedAt);
    assert.ok(taken, "activated again after the restart");
    t.diagnostic(`answered ${Date.now() - restartedAt} ms after the restart, from ${taken.node}`);
    assert.deepEqual(ownershipViolations(history, new Map([[old.node, restartedAt]])), []);
  });
});
