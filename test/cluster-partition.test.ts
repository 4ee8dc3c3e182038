// A real network partition: three cluster nodes as processes, one of them in a network
// namespace of the test's own, joined to the host by a veth pair. The test runs its own
// nats-server on the host's end of the veth, and a relay there to the test database, so that the
// namespaced node reaches both only across the link. Taking the link down cuts that node alone
// (its process keeps running, its stdout still reaches the test): it must give its sessions up
// before another node's claim of them succeeds, the others serve them with no acknowledged turn
// lost, and once the link is up again the node rejoins with no session running twice.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { after, describe, it, type TestContext } from "node:test";
import { connect } from "@nats-io/transport-node";
import {
  ClusterConnection,
  type ClusterMember,
  type ClusterNodeEvent,
  ClusterSessions,
  connectCluster,
  SessionLeases,
} from "../src/cluster/index.js";
import { sessionsSubject } from "../src/cluster/node-service.js";
import { decodeOutcome, encodeRequest } from "../src/cluster/session-wire.js";
import type { SessionEvent, SessionInfo } from "../src/index.js";
import { ownershipViolations } from "./fixtures/cluster-node-checker.js";
import { ownNatsServer } from "./fixtures/cluster-partition-nats.js";
import { partitionNetwork } from "./fixtures/cluster-partition-network.js";
import { tcpRelay } from "./fixtures/cluster-partition-relay.js";
import { assertAcknowledgedKept, historiesAnswered, until } from "./support/cluster-turns.js";
import { natsFixture } from "./support/nats.js";
import { requirePostgres, TEST_POSTGRES_URL, TestSchemas } from "./support/postgres-test-db.js";

const TTL_MS = 1500;
const schemas = new TestSchemas();
after(() => schemas.dropAll());

type Activation = Extract<ClusterNodeEvent, { type: "session_activated" }>;
type Release = Extract<ClusterNodeEvent, { type: "session_released" }>;
/** A node's NATS connection changing state (staleConnection, disconnect, reconnect, ...), as it printed it. */
interface ConnectionStatus {
  type: "nats_status";
  node: string;
  status: string;
  at: number;
}

interface NodeProcess {
  node: string;
  child: ChildProcess;
  ready: Promise<void>;
  exited: Promise<unknown>;
}

/**
 * Teardown steps run last registered first, each even when an earlier one failed (node's
 * `t.after` runs its hooks in the order they were registered): the nodes are killed before the
 * servers they use, and those before the network they listen on.
 */
function stackedTeardown(t: Pick<TestContext, "after">): Pick<TestContext, "after"> {
  const steps: (() => unknown)[] = [];
  t.after(async () => {
    const failures: unknown[] = [];
    for (const step of steps.reverse())
      await Promise.resolve()
        .then(step)
        .catch((e) => failures.push(e));
    if (failures.length > 0) throw failures[0];
  });
  return { after: (step) => steps.push(() => step?.(undefined as never, () => undefined)) };
}

/**
 * The network, the servers, three node processes (node2 in the namespace) and a client of
 * theirs in the test process. Torn down in reverse: the client, the nodes, the relay, the
 * nats-server, the veth and the namespace; the schema at the end of the file.
 */
async function partitionedCluster(test: Pick<TestContext, "after" | "diagnostic">) {
  const t = { ...stackedTeardown(test), diagnostic: test.diagnostic.bind(test) };
  const network = await partitionNetwork(t);
  await requirePostgres();
  const nats = await ownNatsServer(t, network.hostAddress);
  // The namespaced node's database is the test database through the relay on the link (see
  // cluster-partition-relay.ts); the host's nodes use it directly.
  const database = new URL(TEST_POSTGRES_URL);
  const relay = await tcpRelay(t, network.hostAddress, {
    host: database.hostname,
    port: Number(database.port || 5432),
  });
  const relayed = new URL(TEST_POSTGRES_URL);
  relayed.hostname = relay.host;
  relayed.port = String(relay.port);
  t.diagnostic(
    `namespace ${network.namespace}: ${network.hostInterface} ${network.hostAddress} <-> ` +
      `${network.namespaceInterface} ${network.namespaceAddress}; NATS ${nats.url}; Postgres relay ${relay.host}:${relay.port}`,
  );

  const schema = schemas.fresh();
  const prefix = "svp";
  const buckets = { nodes: "svp_nodes", leases: "svp_owners" };
  const history: ClusterNodeEvent[] = [];
  const connections: ConnectionStatus[] = [];
  const children: NodeProcess[] = [];
  t.after(async () => {
    for (const { child, exited } of children) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    }
  });
  const isolated = "node2";
  for (const node of ["node0", "node1", isolated]) {
    const inside = node === isolated;
    const config = {
      node,
      servers: nats.url,
      prefix,
      connectionString: inside ? relayed.href : TEST_POSTGRES_URL,
      schema,
      buckets,
      leaseTtlMs: TTL_MS,
      chunkDelayMs: 100,
      printConnection: true,
    };
    const argv = [
      process.execPath,
      "--import",
      "tsx",
      "test/fixtures/cluster-node-process.ts",
      JSON.stringify(config),
    ];
    const { command, args } = inside
      ? network.inside(argv)
      : { command: argv[0] as string, args: argv.slice(1) };
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "inherit"] });
    const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(signal ?? code)));
    const ready = new Promise<void>((resolve, reject) => {
      child.once("exit", (code, signal) =>
        reject(new Error(`${node} exited (${signal ?? code}) before it was ready`)),
      );
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
        let event: { type?: string };
        try {
          event = JSON.parse(line);
        } catch {
          return;
        }
        if (event.type === "ready") resolve();
        else if (event.type === "nats_status") connections.push(event as ConnectionStatus);
        else history.push(event as ClusterNodeEvent);
      });
    });
    ready.catch(() => undefined);
    children.push({ node, child, ready, exited });
  }
  await Promise.all(children.map((c) => c.ready));

  // The test talks to the cluster as a client from the host: owners from the leases, nodes
  // from their bucket (each with the server's time of its last heartbeat).
  const nc = await connect({ servers: nats.url, name: "client", timeout: 3000 });
  t.after(() => nc.close().catch(() => undefined));
  const connection = await ClusterConnection.wrap(nc);
  const leases = await SessionLeases.open(connection, {
    node: "client",
    bucket: buckets.leases,
    leaseTtlMs: TTL_MS,
  });
  t.after(() => leases.close().catch(() => undefined));
  const nodesKv = await connection.kvm.open(buckets.nodes);
  let members: ClusterMember[] = [];
  const readMembers = async () => {
    // keys() may name a key twice when it is written while listed (a heartbeat): one entry each.
    const found = new Map<string, ClusterMember>();
    for await (const key of await nodesKv.keys()) {
      const entry = await nodesKv.get(key);
      if (entry?.operation !== "PUT") continue;
      found.set(key, { ...(entry.json() as Omit<ClusterMember, "lastSeen">), lastSeen: entry.created });
    }
    members = [...found.values()];
    return members;
  };
  await until("the three nodes in the nodes bucket", 10_000, async () =>
    (await readMembers()).length === 3 ? true : undefined,
  );
  const cutOff = new Set<string>();
  const client = new ClusterSessions({
    nc,
    prefix,
    leases,
    members: () => members.filter((m) => !cutOff.has(m.node)),
    requestTimeoutMs: 10_000,
    turnTimeoutMs: 60_000,
  });
  /** One node's own sessions, asked of it directly (an error if it does not answer). */
  const listedBy = async (node: string) =>
    decodeOutcome(
      (await nc.request(sessionsSubject(prefix, node), encodeRequest({ op: "list" }), { timeout: 5000 }))
        .data,
    ) as SessionInfo[];
  return { network, history, connections, client, cutOff, readMembers, listedBy, isolated, teardown: t };
}

describe("a network partition (network namespace and veth)", () => {
  it("a node cut from NATS and Postgres by its link going down stops its sessions before the others take them; healed, it rejoins with no duplicates", {
    timeout: 90_000,
  }, async (t) => {
    const { network, history, connections, client, cutOff, readMembers, listedBy, isolated, teardown } =
      await partitionedCluster(t);
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
    const cut = ids.filter((id) => owners.get(id) === isolated);
    t.diagnostic(
      `placement ${JSON.stringify([...owners.values()])}; ${isolated} (in the namespace) owns ${cut.length}`,
    );
    assert.ok(cut.length > 0, `the namespaced node owns some sessions: ${JSON.stringify([...owners])}`);

    // A turn streaming on the namespaced node when its link goes down.
    const inFlightId = cut[0] as string;
    const seen: SessionEvent[] = [];
    const subscription = await client.subscribe(inFlightId, (event) => seen.push(event));
    teardown.after(() => subscription.unsubscribe());
    const long = `echo ${Array.from({ length: 40 }, (_, i) => `w${i}`).join(" ")}`;
    client.sendMessage(inFlightId, long).catch(() => undefined); // its node is cut off under it
    await until("the turn to stream", 10_000, async () =>
      seen.some((e) => e.type === "llm_delta") ? true : undefined,
    );

    await network.cut();
    const cutAt = Date.now();
    cutOff.add(isolated);

    // The others serve its sessions (activated on first use or taken over after member_down).
    const answered = await historiesAnswered(client, ids, cutAt, 8 * TTL_MS, "after the cut");
    const failoverMs = answered.filter((r) => cut.includes(r.id)).map((r) => r.ms);
    t.diagnostic(`the cut node's sessions answered after ${failoverMs.join(", ")} ms (TTL ${TTL_MS} ms)`);
    assertAcknowledgedKept(answered, acknowledged);
    const interrupted = answered.find((r) => r.id === inFlightId)?.turns.at(-1);
    assert.deepEqual([interrupted?.content, interrupted?.status], [long, "interrupted"]);

    // The cut node said it gave each session up (by its own timer: its lease could not be
    // renewed), and each was claimed by another node only after that.
    const releaseOf = (id: string) =>
      history.find(
        (e): e is Release => e.type === "session_released" && e.node === isolated && e.sessionId === id,
      );
    const takeoverOf = (id: string) =>
      history.filter(
        (e): e is Activation => e.type === "session_activated" && e.sessionId === id && e.at >= cutAt,
      );
    // The lines come over the node's stdout pipe, which the cut does not touch; a node prints an
    // activation as it replies, so its line may come after the reply.
    await until("the cut node's releases and the others' claims", 5000, async () =>
      cut.every((id) => releaseOf(id) && takeoverOf(id).length > 0) ? true : undefined,
    );
    t.diagnostic(
      cut
        .map((id) => {
          const released = releaseOf(id) as Release;
          const [taken] = takeoverOf(id) as [Activation];
          return `${id.slice(-4)}: released (${released.reason}) +${released.at - cutAt} ms, ${taken.node} claimed (${taken.how}, fence ${taken.fence}) +${taken.at - cutAt} ms`;
        })
        .join("; "),
    );
    for (const id of cut) {
      const released = releaseOf(id) as Release;
      const taken = takeoverOf(id);
      assert.equal(taken.length, 1, `claims of ${id} after the cut: ${JSON.stringify(taken)}`);
      const [claim] = taken as [Activation];
      assert.notEqual(claim.node, isolated);
      assert.equal(released.reason, "expired", `why ${isolated} gave ${id} up`);
      assert.ok(
        released.at < claim.at,
        `${isolated} released ${id} at +${released.at - cutAt} ms, ${claim.node} claimed it at +${claim.at - cutAt} ms`,
      );
    }
    for (const ms of failoverMs) assert.ok(ms < 4 * TTL_MS, `answered ${ms} ms after the cut`);

    // The link stays down until the cut node's NATS client has found its connection dead (pings
    // unanswered): healed, it must dial a new connection rather than wait for TCP to retransmit
    // on the old one, whose backoff grows with the length of the partition.
    const staleAt = await until(`${isolated} to find its NATS connection stale`, 20_000, async () => {
      const found = connections.find(
        (c) => c.node === isolated && c.at >= cutAt && ["staleConnection", "disconnect"].includes(c.status),
      );
      return found?.at;
    });
    t.diagnostic(`${isolated} found its NATS connection dead ${staleAt - cutAt} ms after the cut`);
    await network.heal();
    const healedAt = Date.now();

    // Rejoined: connected again, heartbeating (an entry stored after the heal) and answering a
    // request of its own — and running none of the sessions it had.
    await until(`${isolated} to reconnect after the heal`, 30_000, async () =>
      connections.some((c) => c.node === isolated && c.at >= healedAt && c.status === "reconnect")
        ? true
        : undefined,
    );
    const own = await until(`${isolated} to heartbeat and answer after the heal`, 30_000, async () => {
      const members = await readMembers();
      // A heartbeat queued before the cut may land after the heal with its old session count:
      // wait for one that says what the node runs now (nothing), which placement goes by.
      const rejoined = members.some(
        (m) => m.node === isolated && m.lastSeen.getTime() > healedAt && m.sessions === 0,
      );
      if (!rejoined) return undefined;
      return await listedBy(isolated);
    });
    cutOff.delete(isolated);
    t.diagnostic(`${isolated} reconnected and answers ${Date.now() - healedAt} ms after the heal`);
    assert.deepEqual(
      own.map((s) => s.id),
      [],
      `${isolated} runs none of its sessions after the heal`,
    );

    // It serves again: it runs nothing, so the next session is placed on it.
    const fresh = await client.createSession();
    assert.equal(fresh.node, isolated, "the rejoined node, the least loaded, gets the next session");
    assert.equal((await client.sendMessage(fresh.id, "echo rejoined")).text, "rejoined");

    // Whatever it had queued while cut off has landed by now (a lease's lifetime later): the cut
    // sessions stay where they were taken, answer there, and no session runs on two nodes.
    await new Promise((resolve) => setTimeout(resolve, 2 * TTL_MS));
    for (const id of cut) {
      const [claim] = takeoverOf(id) as [Activation];
      assert.equal(await client.ownerOf(id), claim.node, `owner of ${id} after the heal`);
      assert.equal((await client.sendMessage(id, "echo healed")).text, "healed");
    }
    // Each node asked itself: every session runs on exactly one of them.
    const running: [string, string][] = [];
    for (const node of ["node0", "node1", isolated])
      for (const info of await listedBy(node)) running.push([info.id, node]);
    const runningIds = running.map(([id]) => id).sort();
    assert.deepEqual(
      runningIds,
      [...new Set(runningIds)],
      `a session runs on two nodes: ${JSON.stringify(running)}`,
    );
    assert.deepEqual(runningIds, [...ids, fresh.id].sort());
    // The turn in flight wrote nothing once cut off: the store holds it once, interrupted, then
    // the new owner's turn.
    const turns = await client.getHistory(inFlightId);
    assert.deepEqual(
      turns.map((turn) => [turn.content, turn.status]),
      [
        ...(acknowledged.get(inFlightId) ?? []).flatMap((text) => [
          [text, "complete"],
          [text.split(" ").slice(1).join(" "), "complete"],
        ]),
        [long, "interrupted"],
        ["echo healed", "complete"],
        ["healed", "complete"],
      ],
    );
    assert.deepEqual(ownershipViolations(history, new Map()), []);
  });
});

describe("a cluster connection over a link that goes dead", () => {
  it("finds the dead link by its pings (by default every 2 s, 2 unanswered) and dials a new connection once the link is back", {
    timeout: 60_000,
  }, async (t) => {
    // A relay to the test's NATS that can stall: no byte crosses it either way and no reset
    // comes, as on a partitioned network; TCP alone would not notice for minutes.
    const nats = await natsFixture(t);
    const server = new URL(nats.url.replace(/^nats:/, "http:"));
    const relay = await tcpRelay(t, "127.0.0.1", {
      host: server.hostname,
      port: Number(server.port || 4222),
    });
    const connection = await connectCluster({
      servers: `nats://127.0.0.1:${relay.port}`,
      name: "stale-link",
      reconnectTimeWaitMs: 200,
    });
    t.after(() => connection.close());
    const statuses: { status: string; at: number }[] = [];
    void (async () => {
      for await (const status of connection.nc.status())
        if (status.type !== "ping") statuses.push({ status: status.type, at: Date.now() });
    })();
    await connection.nc.flush();

    relay.stall();
    const stalledAt = Date.now();
    const staleAt = await until(
      "the connection to be found stale",
      20_000,
      async () => statuses.find((s) => s.status === "staleConnection")?.at,
    );
    relay.resume();
    const resumedAt = Date.now();
    await until("a new connection", 20_000, async () =>
      statuses.some((s) => s.status === "reconnect" && s.at >= resumedAt) ? true : undefined,
    );
    await connection.nc.flush(); // a round trip on the new connection
    t.diagnostic(
      `stale ${staleAt - stalledAt} ms after the stall; reconnected ${Date.now() - resumedAt} ms after the link came back`,
    );
  });
});
