/**
 * The program a thread or process host runs: one runtime and one registry, connected to the
 * parent over the worker port or the IPC channel. The parent sends `spawn` for the subtree's
 * root; from then on the host only carries frames, beats, and stops when told to.
 */
import { writeSync } from "node:fs";
import { getHeapStatistics } from "node:v8";
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { Registry } from "../registry/index.js";
import { defaultLogger, Pid, Runtime } from "../runtime/index.js";
import type { Frame, HostMemory } from "./frames.js";
import type { HostContext } from "./host-context.js";
import { loadRootFactory } from "./host-context.js";
import { HOST_EXIT_OUT_OF_MEMORY, HOST_EXIT_UNCAUGHT, soundsOutOfMemory } from "./host-down.js";
import type { HostKind } from "./limits.js";
import { type ControlFrame, Peer } from "./peer.js";
import { decodeTerm, encodeReason, encodeTerm } from "./term-codec.js";

/** What the parent tells a host when it starts it. */
export interface HostBoot {
  node: string;
  parentNode: string;
  kind: HostKind;
  heartbeatMs: number;
  stopTimeoutMs: number;
  /** The parent's log level, so a quiet parent has quiet hosts. */
  logLevel: string;
}

const boot: HostBoot = isMainThread ? JSON.parse(process.env.SESSIONVISOR_HOST ?? "null") : workerData;
if (!boot || typeof boot.node !== "string") throw new Error("host-main runs only as a sessionvisor host");

const post: (frame: Frame) => void = isMainThread
  ? (frame) => {
      if (process.connected) process.send?.(frame);
    }
  : (frame) => parentPort?.postMessage(frame);

const logger = defaultLogger();
logger.level = boot.logLevel;
const runtime = new Runtime({ node: boot.node, logger });
const registry = new Registry(runtime, { keys: "unique", names: true });

let nextServiceId = 1;
const serviceCalls = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();

function request(service: string, method: string, args: unknown[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const id = nextServiceId++;
    serviceCalls.set(id, { resolve, reject });
    try {
      post({ t: "service", id, service, method, args: encodeTerm(args, `${service}.${method} arguments`) });
    } catch (error) {
      serviceCalls.delete(id);
      reject(error);
    }
  });
}

function contextFor(label: string): HostContext {
  return {
    isolation: boot.kind,
    hostId: boot.node,
    label,
    runtime,
    registry,
    logger,
    service<T extends object>(name: string): T {
      return new Proxy({} as T, {
        get: (_target, method) =>
          typeof method === "string" && method !== "then"
            ? (...args: unknown[]) => request(name, method, args)
            : undefined,
      });
    },
  };
}

const parent = new Peer(runtime, boot.parentNode, post, (frame) => void control(frame));
// Every other node is reached through the parent, and so is every name not registered here.
runtime.useRouter({ route: () => (parent.closed ? undefined : parent), namesRoute: parent });

registry.on("register", (entry) => post({ t: "register", key: entry.key, pid: entry.pid.toString() }));
registry.on("unregister", (entry) =>
  post({
    t: "unregister",
    key: entry.key,
    pid: entry.pid.toString(),
    reason: encodeReason(entry.reason),
  }),
);

async function control(frame: ControlFrame): Promise<void> {
  switch (frame.t) {
    case "spawn":
      try {
        const factory = await loadRootFactory(frame.module, frame.export);
        const server = await factory(contextFor(frame.label), decodeTerm(frame.args));
        const parentPid = Pid.parse(frame.parent);
        const pid = await runtime.spawn(server, { parent: parentPid, trapExit: frame.trapExit });
        runtime.link(pid, parentPid);
        post({ t: "spawned", id: frame.id, ok: true, pid: pid.toString() });
      } catch (error) {
        post({ t: "spawned", id: frame.id, ok: false, error: encodeReason(error) });
      }
      return;
    case "service_reply": {
      const pending = serviceCalls.get(frame.id);
      serviceCalls.delete(frame.id);
      if (frame.ok) pending?.resolve(decodeTerm(frame.value));
      else pending?.reject(decodeTerm(frame.error));
      return;
    }
    case "stop":
      await runtime.shutdown(boot.stopTimeoutMs);
      process.exit(0);
  }
}

function memory(): HostMemory {
  const heap = getHeapStatistics();
  const usage = process.memoryUsage();
  return {
    heapUsed: heap.used_heap_size,
    heapLimit: heap.heap_size_limit,
    external: heap.external_memory,
    rss: usage.rss,
  };
}

const onFrame = (frame: Frame) => parent.receive(frame);
if (isMainThread) {
  process.on("message", onFrame);
  // A host never outlives its parent: no orphan processes, whatever killed the parent.
  process.on("disconnect", () => process.exit(0));
  // Its own exit code, so the parent tells an uncaught error from session code's process.exit(1).
  process.on("uncaughtException", (error) => {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    writeSync(2, `sessionvisor host ${boot.node}: uncaught ${text}\n`);
    process.exit(soundsOutOfMemory(text) ? HOST_EXIT_OUT_OF_MEMORY : HOST_EXIT_UNCAUGHT);
  });
} else {
  parentPort?.on("message", onFrame);
}
setInterval(() => post({ t: "heartbeat", memory: memory() }), boot.heartbeatMs);
post({ t: "ready", node: boot.node });
post({ t: "heartbeat", memory: memory() });
