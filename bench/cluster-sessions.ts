// The cluster's session benchmark (issue 14): node processes on the real NATS (127.0.0.1:4222)
// and PostgreSQL (127.0.0.1:5432, db `test`), each node a child process running
// bench/cluster-node-child.ts and working through its own `node.sessions`:
//  1. sessions activated per second cluster-wide with 1, 2 and 3 nodes (createSession from every
//     node at once; a fresh cluster for each count);
//  2. a turn (sendMessage, offline model) to a session on another node vs one on the sending node;
//  3. failover over KILLS kill -9s of one of three nodes (in rotation, restarted after): from the
//     kill to each of its sessions' first answer from the survivors, and the acknowledged turns
//     of a conversation kept going through the kill that the store lost.
// Every run uses its own subject prefix, KV buckets and Postgres schemas, deleted at the end;
// every node process is stopped even when the run fails. The node processes, NATS, Postgres
// and this process share the machine's cores: read the shape, not the absolute numbers.
import { randomBytes } from "node:crypto";
import { cpus, loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import pg from "pg";
import { type NodeConfig, NodeProcess, stopAll } from "./cluster-node-procs.js";
import { percentile } from "./stats.js";
import { type Figure, renderTable } from "./table.js";

const NATS_URL = process.env.SESSIONVISOR_BENCH_NATS_URL ?? "nats://127.0.0.1:4222";
const POSTGRES_URL = process.env.SESSIONVISOR_BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const TTL_MS = 1500;
const NODE_COUNTS = [1, 2, 3];
/** Sessions each node creates in the activation rate's measured slice, and how many at once. */
const PER_NODE = 150;
/** The slices each cluster's PER_NODE are created in, the clusters taking turns. */
const SLICES = 3;
const IN_FLIGHT = 8;
const WARMUP_PER_NODE = 20;
const TURN_ROUNDS = 500;
const TURN_WARMUP = 50;
/** Overridable for a quick look (SESSIONVISOR_BENCH_CLUSTER_KILLS=3); the figures quoted are for 20. */
const KILLS = Number(process.env.SESSIONVISOR_BENCH_CLUSTER_KILLS ?? 20);
const SESSIONS_PER_NODE_AT_START = 4;
/** Sessions created from a victim that owns fewer than that (placed by load, so mostly on it). */
const MIN_VICTIM_SESSIONS = 2;
/** The pause between a conversation's turns during a kill: a busy user, not a flood. */
const CHAT_GAP_MS = 50;
/** Every turn of a session's conversation stays in its history, so every acknowledged one can be checked. */
const KEEP_ALL_TURNS = { limits: { maxHistory: 100_000 } };

export interface ScalingFigures {
  nodes: number;
  sessions: number;
  perSec: number;
  /** Where the measured sessions were placed: sessions per node. */
  placed: Record<string, number>;
}

export interface FailoverFigures {
  kills: number;
  /** Kill → first answer from a survivor, one per session of the killed node (ms). */
  samplesMs: number[];
  /** Sessions that did not answer within the probe's bound. */
  unanswered: number;
  acknowledged: number;
  /** Turns of those conversations that failed (in flight at the kill, or sent to the dead owner). */
  unacknowledged: number;
  /** Why they failed: error name and message, with how many times. */
  failures: Record<string, number>;
  lost: number;
  /** A few of the lost turns, with the end of their session's history, to look into. */
  lostExamples: string[];
  /** How the killed node's sessions were claimed: failover (membership) or activated (first use). */
  how: Record<string, number>;
}

export type ClusterSessionsFigures =
  | {
      available: true;
      cores: number;
      scaling: ScalingFigures[];
      turns: { localMs: number[]; remoteMs: number[] };
      failover: FailoverFigures;
      seconds: number;
      /** The machine's 1-minute load average at the start and at the end of the suite. */
      load: [number, number];
    }
  | { available: false; why: string };

/** What is missing, or undefined when NATS (with JetStream) and Postgres both answer. */
async function missingService(): Promise<string | undefined> {
  try {
    const nc = await connect({ servers: NATS_URL, timeout: 3000, maxReconnectAttempts: 0 });
    try {
      await (await jetstreamManager(nc, { timeout: 3000 })).getAccountInfo();
    } catch (error) {
      return `NATS at ${NATS_URL} has no JetStream (start nats-server -a 127.0.0.1 -p 4222 -js): ${String(error)}`;
    } finally {
      await nc.close();
    }
  } catch (error) {
    return `NATS is not reachable at ${NATS_URL} (start nats-server -a 127.0.0.1 -p 4222 -js): ${String(error)}`;
  }
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    await client.query("SELECT 1");
  } catch (error) {
    return `PostgreSQL is not reachable at ${POSTGRES_URL} (pg_ctlcluster 15 main start): ${String(error)}`;
  } finally {
    await client.end().catch(() => undefined);
  }
  return undefined;
}

/** The run's names (prefix, buckets, schemas), each cluster its own, all deleted by `cleanup`. */
class Run {
  readonly tag = `svbench_${process.pid}_${randomBytes(3).toString("hex")}`;
  readonly nodes: NodeProcess[] = [];
  private readonly buckets: string[] = [];
  private readonly schemas: string[] = [];
  private clusters = 0;

  /** The config of a new cluster's nodes (fresh subjects, buckets and schema). */
  cluster(): (node: string) => NodeConfig {
    const name = `${this.tag}_c${++this.clusters}`;
    const buckets = { nodes: `${name}_nodes`, leases: `${name}_owners` };
    this.buckets.push(buckets.nodes, buckets.leases);
    this.schemas.push(name);
    return (node) => ({
      node,
      servers: NATS_URL,
      prefix: `bench.${name}`,
      connectionString: POSTGRES_URL,
      schema: name,
      buckets,
      leaseTtlMs: TTL_MS,
    });
  }

  async start(config: NodeConfig): Promise<NodeProcess> {
    const node = new NodeProcess(config);
    this.nodes.push(node);
    await node.ready;
    return node;
  }

  async cleanup(): Promise<void> {
    await stopAll(this.nodes);
    try {
      const nc = await connect({ servers: NATS_URL, timeout: 3000, maxReconnectAttempts: 0 });
      try {
        const jsm = await jetstreamManager(nc, { timeout: 3000 });
        for (const bucket of this.buckets) await jsm.streams.delete(`KV_${bucket}`).catch(() => undefined);
      } finally {
        await nc.close();
      }
    } catch {
      // NATS went away during the run: nothing can be deleted, and the run has failed already.
    }
    const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
    client.on("error", () => undefined);
    try {
      await client.connect();
      for (const schema of this.schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    } catch {
      // As above.
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until every node sees all of them live. */
async function converged(nodes: NodeProcess[]): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const seen = await Promise.all(nodes.map((n) => n.request<string[]>("members")));
    if (
      seen.every((members) => nodes.every((n) => members.includes(n.node)) && members.length === nodes.length)
    )
      return;
    if (Date.now() > deadline)
      throw new Error(`the nodes did not see each other within 15 s: ${JSON.stringify(seen)}`);
    await sleep(50);
  }
}

/** Starts a cluster of `count` node processes: the first alone (it makes the schema), then the rest. */
async function startCluster(run: Run, count: number, config = run.cluster()): Promise<NodeProcess[]> {
  const first = await run.start(config("n0"));
  const rest = await Promise.all(Array.from({ length: count - 1 }, (_, i) => run.start(config(`n${i + 1}`))));
  const nodes = [first, ...rest];
  await converged(nodes);
  return nodes;
}

type Created = { created: { id: string; node: string }[]; ms: number };

/**
 * The activation rate of 1, 2 and 3 nodes: the three clusters run side by side (idle but for
 * their heartbeats when not measured) and are measured in alternating slices, so that a load
 * that changes during the run (other work on this machine) weighs on all of them alike.
 */
async function measureScaling(run: Run): Promise<ScalingFigures[]> {
  const clusters: NodeProcess[][] = [];
  for (const count of NODE_COUNTS) clusters.push(await startCluster(run, count));
  try {
    for (const nodes of clusters)
      await Promise.all(
        nodes.map((n) => n.request<Created>("create", { count: WARMUP_PER_NODE, inFlight: IN_FLIGHT })),
      );
    // Let every node's heartbeat report the warm-up's load, so placement starts from the truth.
    await sleep(400);
    const spentMs = clusters.map(() => 0);
    const placed = clusters.map(() => ({}) as Record<string, number>);
    for (let slice = 0; slice < SLICES; slice++) {
      for (const [c, nodes] of clusters.entries()) {
        const started = performance.now();
        const results = await Promise.all(
          nodes.map((n) =>
            n.request<Created>("create", { count: PER_NODE / SLICES, inFlight: IN_FLIGHT }, 120_000),
          ),
        );
        spentMs[c] = (spentMs[c] as number) + performance.now() - started;
        const where = placed[c] as Record<string, number>;
        for (const { created } of results)
          for (const { node } of created) where[node] = (where[node] ?? 0) + 1;
      }
    }
    return clusters.map((nodes, c) => ({
      nodes: nodes.length,
      sessions: nodes.length * PER_NODE,
      perSec: (nodes.length * PER_NODE) / ((spentMs[c] as number) / 1000),
      placed: placed[c] as Record<string, number>,
    }));
  } finally {
    await stopAll(clusters.flat());
  }
}

async function ownersOf(asker: NodeProcess, ids: string[]): Promise<Record<string, string | null>> {
  return asker.request<Record<string, string | null>>("owners", { ids });
}

async function measureFailover(run: Run): Promise<{
  turns: { localMs: number[]; remoteMs: number[] };
  failover: FailoverFigures;
}> {
  const config = run.cluster();
  const nodes = await startCluster(run, 3, config);
  const ids: string[] = [];
  const create = async (on: NodeProcess, count: number) => {
    const { created } = await on.request<Created>("create", { count, inFlight: 1, config: KEEP_ALL_TURNS });
    ids.push(...created.map((c) => c.id));
  };
  for (const node of nodes) await create(node, SESSIONS_PER_NODE_AT_START);

  // Turns from n0: to its own sessions and to the others'.
  const owners = await ownersOf(nodes[0] as NodeProcess, ids);
  const local = ids.filter((id) => owners[id] === "n0");
  const remote = ids.filter((id) => owners[id] !== "n0");
  if (local.length === 0 || remote.length === 0)
    throw new Error(`placement left n0 with ${local.length} of ${ids.length} sessions: no turn to compare`);
  const turns = await (nodes[0] as NodeProcess).request<{ localMs: number[]; remoteMs: number[] }>(
    "turns",
    { local, remote, rounds: TURN_ROUNDS, warmup: TURN_WARMUP },
    120_000,
  );

  const samplesMs: number[] = [];
  const how: Record<string, number> = {};
  let unanswered = 0;
  let acknowledged = 0;
  let lost = 0;
  let unacknowledged = 0;
  const failures: Record<string, number> = {};
  const lostExamples: string[] = [];
  for (let kill = 0; kill < KILLS; kill++) {
    const victim = nodes[kill % 3] as NodeProcess;
    const [chatter, prober] = nodes.filter((n) => n !== victim) as [NodeProcess, NodeProcess];
    let current = await ownersOf(chatter, ids);
    if (ids.filter((id) => current[id] === victim.node).length < MIN_VICTIM_SESSIONS) {
      await create(victim, MIN_VICTIM_SESSIONS);
      current = await ownersOf(chatter, ids);
    }
    const victims = ids.filter((id) => current[id] === victim.node);
    if (victims.length === 0) throw new Error(`kill ${kill + 1}: ${victim.node} owns no session`);

    // A conversation on each of the victim's sessions, going on through the kill.
    await chatter.request("chatStart", { ids: victims, tag: `k${kill}`, gapMs: CHAT_GAP_MS });
    await sleep(50);
    const killedAt = Date.now();
    await victim.kill();
    const answered = await prober.request<Record<string, number | null>>(
      "probe",
      { ids: victims, timeoutMs: 10 * TTL_MS },
      30_000,
    );
    const { acked, failed } = await chatter.request<{
      acked: { id: string; text: string }[];
      failed: { sentAt: number; why: string }[];
    }>("chatStop", {}, 60_000);
    unacknowledged += failed.length;
    for (const { sentAt, why } of failed) {
      const reason = `${why} — sent ${sentAt < killedAt ? "before" : "after"} the kill`;
      failures[reason] = (failures[reason] ?? 0) + 1;
    }
    for (const id of victims) {
      const at = answered[id];
      if (at === null || at === undefined) unanswered++;
      else samplesMs.push(at - killedAt);
    }
    const history = await prober.request<Record<string, { content: string; status: string }[]>>("history", {
      ids: victims,
    });
    acknowledged += acked.length;
    for (const { id, text } of acked)
      if (!history[id]?.some((turn) => turn.content === text && turn.status === "complete")) {
        lost++;
        if (lostExamples.length < 3)
          lostExamples.push(
            `${text} (kill ${kill + 1}; ${id} holds ${JSON.stringify(history[id]?.slice(-3))})`,
          );
      }
    for (const survivor of [chatter, prober])
      for (const event of survivor.events)
        if (event.type === "session_activated" && event.at >= killedAt && victims.includes(event.sessionId))
          how[event.how ?? "?"] = (how[event.how ?? "?"] ?? 0) + 1;

    // The victim comes back under its name (it waits out its earlier run's leases), empty.
    const restarted = await run.start(config(victim.node));
    nodes[kill % 3] = restarted;
    await stage(`restart of ${victim.node} after kill ${kill + 1}`, () => converged(nodes));
    for (const node of nodes) node.events.length = 0;
  }
  await stopAll(nodes);
  return {
    turns,
    failover: {
      kills: KILLS,
      samplesMs,
      unanswered,
      acknowledged,
      unacknowledged,
      failures,
      lost,
      lostExamples,
      how,
    },
  };
}

/** Runs one stage of the suite; its failure names it. */
async function stage<T>(name: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    throw new Error(`${name}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export async function measureClusterSessions(): Promise<ClusterSessionsFigures> {
  const missing = await missingService();
  if (missing) return { available: false, why: missing };
  const run = new Run();
  const started = performance.now();
  // Interrupted (Ctrl-C), the suite still stops its nodes and deletes its buckets and schemas.
  const interrupted = (signal: NodeJS.Signals) => {
    void run.cleanup().finally(() => process.kill(process.pid, signal));
  };
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  try {
    const loadBefore = loadavg()[0] as number;
    const scaling = await stage("activation rate", () => measureScaling(run));
    const { turns, failover } = await stage("turns and failover", () => measureFailover(run));
    return {
      available: true,
      cores: cpus().length,
      scaling,
      turns,
      failover,
      seconds: (performance.now() - started) / 1000,
      load: [loadBefore, loadavg()[0] as number],
    };
  } catch (error) {
    return {
      available: false,
      why: `the run failed: ${error instanceof Error ? error.message : String(error)}`,
    };
  } finally {
    process.off("SIGINT", interrupted);
    process.off("SIGTERM", interrupted);
    await run.cleanup();
  }
}

function sorted(values: number[]): Float64Array {
  return Float64Array.from(values).sort();
}

export function clusterSessionsTable(f: ClusterSessionsFigures): string {
  if (!f.available) return `### cluster-sessions: not measured (${f.why})\n`;
  const one = f.scaling[0]?.perSec;
  const scaling: Figure[] = f.scaling.map((s) => ({
    name: `${s.nodes} node${s.nodes > 1 ? "s" : ""}: createSession from every node, ${PER_NODE} each, ${IN_FLIGHT} in flight each`,
    unit: "/s",
    ours: s.perSec,
    otp: s.nodes === 1 ? undefined : one,
    higherIsBetter: true,
  }));
  const placement = f.scaling
    .map(
      (s) =>
        `${s.nodes} node(s): ${Object.entries(s.placed)
          .map(([n, c]) => `${n} ${c}`)
          .join(", ")}`,
    )
    .join("; ");

  const local = sorted(f.turns.localMs);
  const remote = sorted(f.turns.remoteMs);
  const turns: Figure[] = [50, 99].map((p) => ({
    name: `turn to a session on another node, ${p === 50 ? "median" : "p99"}`,
    unit: "µs",
    ours: percentile(remote, p) * 1000,
    otp: percentile(local, p) * 1000,
    higherIsBetter: false,
  }));

  const fo = f.failover;
  const samples = sorted(fo.samplesMs);
  const bound = 2 * TTL_MS;
  const within = (v: number) => v <= bound;
  const failover: Figure[] = [
    ...(
      [
        ["median", 50],
        ["p90", 90],
        ["max", 100],
      ] as const
    ).map(([label, p]) => ({
      name: `kill -9 → session answers from a survivor, ${label}`,
      unit: "ms",
      ours: percentile(samples, p),
      otp: bound,
      higherIsBetter: false,
      goal: { text: `≤ ${bound} ms`, met: within },
    })),
    {
      name: "sessions past 2 × TTL, or not answering",
      unit: "",
      ours: samples.filter((v) => v > bound).length + fo.unanswered,
      otp: undefined,
      higherIsBetter: false,
    },
    {
      name: "acknowledged turns lost",
      unit: "",
      ours: fo.lost,
      otp: undefined,
      higherIsBetter: false,
      goal: { text: "0", met: (v) => v === 0 },
    },
  ];
  const cores = `${f.cores} core${f.cores > 1 ? "s" : ""}`;
  return [
    renderTable(
      `cluster-sessions: sessions activated per second cluster-wide — node processes on one machine, sharing its ${cores} with NATS and Postgres (so this is a scaling shape, not a capacity)`,
      scaling,
      { name: "1 node" },
    ),
    `placement of the measured sessions — ${placement}`,
    "",
    renderTable(
      `cluster-sessions: sendMessage (offline model) from node n0 of 3 node processes, to a session on another node vs on n0, ${TURN_ROUNDS} of each in turns`,
      turns,
      { name: "same node" },
    ),
    "",
    renderTable(
      `cluster-sessions: failover over ${fo.kills} kill -9s of one of 3 node processes (rotating, restarted after), lease TTL ${TTL_MS} ms, ${samples.length + fo.unanswered} sessions of killed nodes`,
      failover,
      { name: "2 × TTL" },
    ),
    `${fo.acknowledged} turns acknowledged during the kills' conversations (${fo.unacknowledged} failed: in flight at a kill or sent to the dead owner; they are not checked); the killed nodes' sessions were claimed by ${Object.entries(
      fo.how,
    )
      .map(([how, n]) => `${how} ${n}`)
      .join(", ")}`,
    ...Object.entries(fo.failures)
      .sort((a, b) => b[1] - a[1])
      .map(([reason, n]) => `failed turns: ${n} × ${reason}`),
    ...fo.lostExamples.map((example) => `lost: ${example}`),
    `whole suite ${f.seconds.toFixed(0)} s; load average ${f.load[0].toFixed(1)} at its start and ${f.load[1].toFixed(1)} at its end on ${cores}`,
  ].join("\n");
}
