// Three cluster nodes as child processes on the real NATS and Postgres (lease TTL 1.5 s); one is
// killed with SIGKILL in the middle of a conversation. Its sessions answer from the others, no
// acknowledged turn is lost, the turn in flight is marked interrupted, and the recorded history
// of ownership (every activation with its fence, every release, the kill) has one owner per
// fence interval.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { after, describe, it, type TestContext } from "node:test";
import {
  ClusterConnection,
  type ClusterMember,
  type ClusterNodeEvent,
  ClusterSessions,
  SessionLeases,
} from "../src/cluster/index.js";
import type { SessionEvent } from "../src/index.js";
import { ownershipViolations } from "./fixtures/cluster-node-checker.js";
import { assertAcknowledgedKept, historiesAnswered, until } from "./support/cluster-turns.js";
import { natsFixture } from "./support/nats.js";
import { requirePostgres, TEST_POSTGRES_URL, TestSchemas } from "./support/postgres-test-db.js";

const TTL_MS = 1500;
const schemas = new TestSchemas();
after(() => schemas.dropAll());

interface NodeProcess {
  node: string;
  child: ChildProcess;
  ready: Promise<void>;
  exited: Promise<unknown>;
}

/** Three node processes and a client of theirs (owners from the leases, nodes from their bucket). */
async function processCluster(t: Pick<TestContext, "after">) {
  const nats = await natsFixture(t);
  await requirePostgres();
  const schema = schemas.fresh();
  const prefix = nats.subject("sv");
  const buckets = { nodes: nats.bucket("nodes"), leases: nats.bucket("owners") };
  const history: ClusterNodeEvent[] = [];
  const children: NodeProcess[] = [];
  t.after(async () => {
    for (const { child, exited } of children) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    }
  });
  for (let i = 0; i < 3; i++) {
    const node = `node${i}`;
    const config = {
      node,
      servers: nats.url,
      prefix,
      connectionString: TEST_POSTGRES_URL,
      schema,
      buckets,
      leaseTtlMs: TTL_MS,
      chunkDelayMs: 100,
    };
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "test/fixtures/cluster-node-process.ts", JSON.stringify(config)],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(signal ?? code)));
    const ready = new Promise<void>((resolve, reject) => {
      child.once("exit", () => reject(new Error(`${node} exited before it was ready`)));
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
        let event: { type?: string };
        try {
          event = JSON.parse(line);
        } catch {
          return;
        }
        if (event.type === "ready") resolve();
        else history.push(event as ClusterNodeEvent);
      });
    });
    ready.catch(() => undefined);
    children.push({ node, child, ready, exited });
  }
  await Promise.all(children.map((c) => c.ready));

  // The test talks to the cluster as a client: owners from the leases, nodes from their bucket.
  const connection = await ClusterConnection.wrap(await nats.connect("client"));
  const leases = await SessionLeases.open(connection, {
    node: "client",
    bucket: buckets.leases,
    leaseTtlMs: TTL_MS,
  });
  const nodesKv = await connection.kvm.open(buckets.nodes);
  let members: ClusterMember[] = [];
  const readMembers = async () => {
    const found: ClusterMember[] = [];
    for await (const key of await nodesKv.keys()) {
      const entry = await nodesKv.get(key);
      if (entry?.operation !== "PUT") continue;
      found.push({ ...(entry.json() as Omit<ClusterMember, "lastSeen">), lastSeen: entry.created });
    }
    members = found;
  };
  await until("the three nodes in the nodes bucket", 10_000, async () => {
    await readMembers();
    return members.length === 3 ? true : undefined;
  });
  const dead = new Set<string>();
  const client = new ClusterSessions({
    nc: connection.nc,
    prefix,
    leases,
    members: () => members.filter((m) => !dead.has(m.node)),
    requestTimeoutMs: 10_000,
    turnTimeoutMs: 60_000,
  });

  t.after(() => leases.close().catch(() => undefined));
  return { children, history, client, dead, readMembers };
}

describe("cluster nodes as processes", () => {
  it("kill -9 of a node mid-conversation: its sessions answer from the others, 0 acknowledged turns lost, one owner per fence", {
    timeout: 120_000,
  }, async (t) => {
    const { children, history, client, dead, readMembers } = await processCluster(t);
    const ids: string[] = [];
    const acknowledged = new Map<string, string[]>();
    for (let i = 0; i < 6; i++) {
      const { id } = await client.createSession();
      ids.push(id);
      acknowledged.set(id, []);
      await readMembers();
    }
    for (const round of [1, 2])
      for (const id of ids) {
        const text = `echo ${id.slice(-4)} ${round}`;
        await client.sendMessage(id, text);
        acknowledged.get(id)?.push(text);
      }
    const owners = new Map<string, string>();
    for (const id of ids) owners.set(id, (await client.ownerOf(id)) as string);
    const victim = [...owners.values()].sort(
      (x, y) =>
        [...owners.values()].filter((o) => o === y).length -
        [...owners.values()].filter((o) => o === x).length,
    )[0] as string;
    const victims = ids.filter((id) => owners.get(id) === victim);
    t.diagnostic(
      `placement ${JSON.stringify([...owners.values()])}; killing ${victim} with ${victims.length} session(s)`,
    );
    assert.ok(new Set(owners.values()).size >= 2, "sessions spread over the nodes");

    const inFlightId = victims[0] as string;
    const seen: SessionEvent[] = [];
    const subscription = await client.subscribe(inFlightId, (event) => seen.push(event));
    t.after(() => subscription.unsubscribe());
    const long = `echo ${Array.from({ length: 60 }, (_, i) => `w${i}`).join(" ")}`;
    client.sendMessage(inFlightId, long).catch(() => undefined); // its node is killed under it
    await until("the turn to stream", 10_000, async () =>
      seen.some((e) => e.type === "llm_delta") ? true : undefined,
    );

    const victimProcess = children.find((c) => c.node === victim) as NodeProcess;
    victimProcess.child.kill("SIGKILL");
    const killedAt = Date.now();
    assert.equal(await victimProcess.exited, "SIGKILL");
    dead.add(victim);

    const answered = await historiesAnswered(client, ids, killedAt, 8 * TTL_MS, "after the kill");
    const failoverMs = answered.filter((r) => victims.includes(r.id)).map((r) => r.ms);
    t.diagnostic(`the killed node's sessions answered after ${failoverMs.join(", ")} ms (TTL ${TTL_MS} ms)`);

    assertAcknowledgedKept(answered, acknowledged);
    const cut = answered.find((r) => r.id === inFlightId)?.turns.at(-1);
    assert.deepEqual([cut?.content, cut?.status], [long, "interrupted"]);
    // A node prints its activation as it replies: the line may come after the reply.
    const takenOver = (id: string) =>
      history.filter((e) => e.type === "session_activated" && e.sessionId === id && e.at >= killedAt);
    await until("every activation's line", 5000, async () =>
      victims.every((id) => takenOver(id).length > 0) ? true : undefined,
    );
    t.diagnostic(
      `claims: ${victims
        .map((id) =>
          takenOver(id).map(
            (e) => `${e.node} ${e.type === "session_activated" ? e.how : ""} +${e.at - killedAt} ms`,
          ),
        )
        .join("; ")}`,
    );
    for (const id of victims) {
      const after = takenOver(id);
      assert.equal(after.length, 1, `activations of ${id} after the kill: ${JSON.stringify(after)}`);
      assert.notEqual(after[0]?.node, victim);
    }
    assert.deepEqual(ownershipViolations(history, new Map([[victim, killedAt]])), []);
    for (const ms of failoverMs) assert.ok(ms < 4 * TTL_MS, `answered ${ms} ms after the kill`);
  });

  it("a node paused (SIGSTOP) past its leases loses its sessions, and once resumed writes nothing of them", {
    timeout: 120_000,
  }, async (t) => {
    const { children, history, client, dead } = await processCluster(t);
    const { id, node: victim } = await client.createSession();
    await client.sendMessage(id, "echo before");
    const seen: SessionEvent[] = [];
    const subscription = await client.subscribe(id, (event) => seen.push(event));
    t.after(() => subscription.unsubscribe());
    const long = `echo ${Array.from({ length: 40 }, (_, i) => `w${i}`).join(" ")}`;
    client.sendMessage(id, long).catch(() => undefined); // its node stops under it
    await until("the turn to stream", 10_000, async () =>
      seen.some((e) => e.type === "llm_delta") ? true : undefined,
    );

    const paused = children.find((c) => c.node === victim) as NodeProcess;
    paused.child.kill("SIGSTOP");
    const pausedAt = Date.now();
    dead.add(victim);
    // Another node takes the session over (its old lease expires while its holder sleeps).
    assert.equal((await client.sendMessage(id, "echo after")).text, "after");
    const [taken] = history.filter(
      (e) => e.type === "session_activated" && e.sessionId === id && e.at >= pausedAt,
    );
    assert.ok(taken && taken.node !== victim, JSON.stringify(taken));

    paused.child.kill("SIGCONT");
    // Once running again it finds its lease gone and stops the session; it stays a member. Its
    // last word on the session is the release (by the clock or by a refused renewal, whichever
    // comes first once it runs; even one stamped before the pause would do).
    const lastWordOfVictim = () => history.filter((e) => e.node === victim && e.sessionId === id).at(-1);
    await until("the resumed node to give the session up", 10_000, async () =>
      lastWordOfVictim()?.type === "session_released" ? true : undefined,
    );
    // Its turn in flight streamed on, unable to write: the store holds the new owner's story only.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const turns = await client.getHistory(id);
    assert.deepEqual(
      turns.map((turn) => [turn.content, turn.status]),
      [
        ["echo before", "complete"],
        ["before", "complete"],
        [long, "interrupted"],
        ["echo after", "complete"],
        ["after", "complete"],
      ],
    );
    assert.equal(await client.ownerOf(id), taken.node);
    assert.deepEqual(ownershipViolations(history, new Map([[victim, pausedAt]])), []);
    t.diagnostic(`taken over ${taken.at - pausedAt} ms after the pause; the resumed node gave it up too`);
  });
});
