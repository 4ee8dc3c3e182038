// The cluster router's benchmark: a call to a process of another node over NATS (two runtimes,
// two connections, one process), beside a local call and a bare NATS request/reply of the same
// payload, measured in the same run against the real server at 127.0.0.1:4222. Client, server
// and both nodes share this machine's two cores: read the ratios, not the absolute numbers.
import { performance } from "node:perf_hooks";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { NatsRouter } from "../src/cluster/nats-router.js";
import { GenServer, Runtime, silentLogger } from "../src/index.js";
import { latencyUs } from "./stats.js";
import { type Figure, renderTable } from "./table.js";

const URL = process.env.SESSIONVISOR_BENCH_NATS_URL ?? "nats://127.0.0.1:4222";
const SEQUENTIAL = 3000;
const WARMUP = 3000;
const IN_FLIGHT = 32;
const RUN_MS = 4000;
const ROUNDS = 8;
const PAYLOAD = { op: "echo", text: "hello from the other node", n: 42 };

class Echo extends GenServer<unknown, unknown> {
  override handleCall(message: unknown): unknown {
    return message;
  }
}

type Latency = { median: number; p99: number };

export interface ClusterCallFigures {
  localUs: { median: number; p99: number };
  remoteUs: { median: number; p99: number };
  bareUs: { median: number; p99: number };
  remotePerSec: number;
  barePerSec: number;
}

/**
 * Latency of each way, sampled in turns (one call of each, then the next round), so that a
 * machine whose load changes during the run weighs on all of them alike.
 */
async function sequential(calls: (() => Promise<unknown>)[]): Promise<{ median: number; p99: number }[]> {
  for (let i = 0; i < WARMUP; i++) for (const call of calls) await call();
  const samples = calls.map(() => new Float64Array(SEQUENTIAL));
  for (let i = 0; i < SEQUENTIAL; i++) {
    for (let c = 0; c < calls.length; c++) {
      const started = performance.now();
      await (calls[c] as () => Promise<unknown>)();
      (samples[c] as Float64Array)[i] = performance.now() - started;
    }
  }
  return samples.map(latencyUs);
}

/** Calls per second with IN_FLIGHT at once, each way measured in ROUNDS alternating slices. */
async function throughput(calls: (() => Promise<unknown>)[]): Promise<number[]> {
  const done = calls.map(() => 0);
  const spent = calls.map(() => 0);
  for (let round = 0; round < ROUNDS; round++) {
    for (let c = 0; c < calls.length; c++) {
      const call = calls[c] as () => Promise<unknown>;
      const until = performance.now() + RUN_MS / ROUNDS;
      const worker = async () => {
        while (performance.now() < until) {
          await call();
          done[c] = (done[c] as number) + 1;
        }
      };
      const started = performance.now();
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
      spent[c] = (spent[c] as number) + (performance.now() - started);
    }
  }
  return done.map((n, c) => n / ((spent[c] as number) / 1000));
}

export async function measureClusterCall(): Promise<ClusterCallFigures> {
  let ncA: NatsConnection;
  let ncB: NatsConnection;
  try {
    ncA = await connect({ servers: URL, name: "bench-a", timeout: 3000, noAsyncTraces: true });
    ncB = await connect({ servers: URL, name: "bench-b", timeout: 3000, noAsyncTraces: true });
  } catch (error) {
    throw new Error(
      `the cluster benchmark needs NATS at ${URL} (start nats-server -a 127.0.0.1 -p 4222 -js): ${String(error)}`,
    );
  }
  const prefix = `bench.cluster${process.pid}`;
  const a = new Runtime({ node: "bench_a", logger: silentLogger() });
  const b = new Runtime({ node: "bench_b", logger: silentLogger() });
  const routerA = await NatsRouter.start(a, ncA, { prefix });
  const routerB = await NatsRouter.start(b, ncB, { prefix });
  try {
    const echo = await b.spawn(new Echo());
    const bareSubject = `${prefix}.bare`;
    ncB.subscribe(bareSubject, {
      callback: (_error, msg) => {
        msg.respond(msg.data);
      },
    });
    await ncB.flush();
    const bytes = new TextEncoder().encode(JSON.stringify(PAYLOAD));
    const bare = () => ncA.request(bareSubject, bytes, { timeout: 5000 });
    const remote = () => a.call(echo, PAYLOAD);
    const local = () => b.call(echo, PAYLOAD);

    const [remoteUs, bareUs, localUs] = (await sequential([remote, bare, local])) as [
      Latency,
      Latency,
      Latency,
    ];
    const [remotePerSec, barePerSec] = (await throughput([remote, bare])) as [number, number];
    return { localUs, remoteUs, bareUs, remotePerSec, barePerSec };
  } finally {
    await a.shutdown(1000);
    await b.shutdown(1000);
    await routerA.close();
    await routerB.close();
    await ncA.close();
    await ncB.close();
  }
}

export function clusterCallTable(f: ClusterCallFigures): string {
  const figures: Figure[] = [
    {
      name: "call to another node, median",
      unit: "µs",
      ours: f.remoteUs.median,
      otp: f.bareUs.median,
      higherIsBetter: false,
    },
    {
      name: "call to another node, p99",
      unit: "µs",
      ours: f.remoteUs.p99,
      otp: f.bareUs.p99,
      higherIsBetter: false,
    },
    {
      name: `calls to another node, ${IN_FLIGHT} in flight`,
      unit: "/s",
      ours: f.remotePerSec,
      otp: f.barePerSec,
      higherIsBetter: true,
    },
    {
      name: "local call (same payload), median",
      unit: "µs",
      ours: f.localUs.median,
      otp: undefined,
      higherIsBetter: false,
    },
    {
      name: "local call (same payload), p99",
      unit: "µs",
      ours: f.localUs.p99,
      otp: undefined,
      higherIsBetter: false,
    },
  ];
  return renderTable("cluster: a call to another node over NATS, beside a bare NATS request/reply", figures, {
    name: "bare NATS",
  });
}
