import { performance } from "node:perf_hooks";
import { GenServer, type Pid, Runtime, silentLogger } from "../src/index.js";
import { Registry } from "../src/registry/index.js";
import { Supervisor, worker } from "../src/supervision/index.js";
import { heapAfterGc, latencyUs, rate } from "./stats.js";

class Idle extends GenServer<"ping", "pong", "inc"> {
  count = 0;
  override handleCall(): "pong" {
    return "pong";
  }
  override handleCast(): void {
    this.count++;
  }
}

/** Tells the bench the moment a (re)started child is ready to take messages. */
class Ready extends GenServer<"ping", "pong", never, never, (at: number) => void> {
  override init(onReady: (at: number) => void): void {
    onReady(performance.now());
  }
  override handleCall(): "pong" {
    return "pong";
  }
}

export interface CoreFigures {
  spawnPerSec: number;
  callMedianUs: number;
  callP99Us: number;
  castPerSec: number;
  registryLookupsPerSec: number;
  restartMedianUs: number;
  restartP99Us: number;
  bytesPerIdleProcess: number | undefined;
}

async function spawnRate(): Promise<number> {
  const rt = new Runtime({ logger: silentLogger() });
  for (let i = 0; i < 2000; i++) await rt.spawn(new Idle());
  const n = 20_000;
  const perSec = await rate(n, async () => {
    for (let i = 0; i < n; i++) await rt.spawn(new Idle());
  });
  await rt.shutdown();
  return perSec;
}

async function callLatency(): Promise<{ median: number; p99: number }> {
  const rt = new Runtime({ logger: silentLogger() });
  const pid = await rt.spawn(new Idle());
  for (let i = 0; i < 20_000; i++) await rt.call(pid, "ping");
  const n = 100_000;
  const samples = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await rt.call(pid, "ping");
    samples[i] = performance.now() - t0;
  }
  await rt.shutdown();
  return latencyUs(samples);
}

async function castRate(): Promise<number> {
  const rt = new Runtime({ logger: silentLogger() });
  const server = new Idle();
  const pid = await rt.spawn(server);
  const n = 1_000_000;
  const perSec = await rate(n, async () => {
    for (let i = 0; i < n; i++) rt.cast(pid, "inc");
    await rt.call(pid, "ping");
  });
  if (server.count !== n) throw new Error(`lost casts: ${server.count} of ${n}`);
  await rt.shutdown();
  return perSec;
}

async function registryLookups(): Promise<number> {
  const rt = new Runtime({ logger: silentLogger() });
  const registry = new Registry(rt, { keys: "unique" });
  const keys: string[] = [];
  for (let i = 0; i < 10_000; i++) {
    const pid = await rt.spawn(new Idle());
    const key = `worker:${i}`;
    registry.register(key, pid);
    keys.push(key);
  }
  const n = 1_000_000;
  let found = 0;
  const perSec = await rate(n, () => {
    for (let i = 0; i < n; i++) if (registry.whereis(keys[i % 10_000] as string)) found++;
  });
  if (found !== n) throw new Error("lookups missed");
  await rt.shutdown();
  return perSec;
}

async function restartLatency(): Promise<{ median: number; p99: number }> {
  const rt = new Runtime({ logger: silentLogger() });
  let readyAt = 0;
  let notify: (() => void) | undefined;
  const onReady = (at: number) => {
    readyAt = at;
    notify?.();
  };
  const sup = await Supervisor.start(rt, {
    maxRestarts: 1_000_000,
    period: 1000,
    children: [worker("child", () => new Ready(), { args: onReady })],
  });
  const n = 1000;
  const samples = new Float64Array(n);
  let child = (await Supervisor.whichChildren(rt, sup))[0]?.pid as Pid;
  for (let i = 0; i < n + 100; i++) {
    const ready = new Promise<void>((resolve) => (notify = resolve));
    const t0 = performance.now();
    rt.exit(child, "kill");
    await ready;
    if (i >= 100) samples[i - 100] = readyAt - t0;
    child = (await Supervisor.whichChildren(rt, sup))[0]?.pid as Pid;
  }
  await rt.shutdown();
  return latencyUs(samples);
}

async function bytesPerIdle(): Promise<number | undefined> {
  const rt = new Runtime({ logger: silentLogger() });
  const pids: Pid[] = [];
  const before = heapAfterGc();
  const n = 10_000;
  for (let i = 0; i < n; i++) pids.push(await rt.spawn(new Idle()));
  const after = heapAfterGc();
  await rt.shutdown();
  return before === undefined || after === undefined ? undefined : (after - before) / n;
}

export async function measureCore(): Promise<CoreFigures> {
  const spawnPerSec = await spawnRate();
  const call = await callLatency();
  const castPerSec = await castRate();
  const registryLookupsPerSec = await registryLookups();
  const restart = await restartLatency();
  const bytesPerIdleProcess = await bytesPerIdle();
  return {
    spawnPerSec,
    callMedianUs: call.median,
    callP99Us: call.p99,
    castPerSec,
    registryLookupsPerSec,
    restartMedianUs: restart.median,
    restartP99Us: restart.p99,
    bytesPerIdleProcess,
  };
}
