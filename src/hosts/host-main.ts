/**
 * The program a thread or process host runs: one runtime and one registry, connected to the
 * parent over the worker port or the IPC channel. The parent sends `spawn` for the subtree's
 * root; from then on the host only carries frames, beats, and stops when told to.
 */
import { writeSync } from "node:fs";
import { createRequire } from "node:module";
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { Registry } from "../registry/index.js";
import { type Logger, Pid, Runtime, stderrLogger } from "../runtime/index.js";
import { FRAME_COST_BYTES, floodWords, frameBytes, SendWindow } from "./flow-control.js";
import type { Frame, HostMemory } from "./frames.js";
import { type CodeCache, hostCode, loadModule } from "./host-code.js";
import type { HostContext, Notifier } from "./host-context.js";
import { loadRootFactory } from "./host-context.js";
import {
  HOST_EXIT_FLOOD,
  HOST_EXIT_OUT_OF_MEMORY,
  HOST_EXIT_UNCAUGHT,
  lastWords,
  soundsOutOfMemory,
} from "./host-down.js";
import type { HostKind } from "./limits.js";
import { type ControlFrame, Peer } from "./peer.js";
import { BELL, framePoster, type PulledChannel } from "./pulled-frames.js";
import { childrenReaped, currentOsThreadId, killDescendants, killProcessGroup } from "./reap.js";
import { decodeTerm, encodeReason, encodeTerm } from "./term-codec.js";

/** What the parent tells a host when it starts it. */
export interface HostBoot {
  node: string;
  parentNode: string;
  kind: HostKind;
  heartbeatMs: number;
  stopTimeoutMs: number;
  /** How many bytes of frames may be in flight towards the parent (`maxInFlightMb`). */
  maxInFlightBytes: number;
  /** The parent's log level, so a quiet parent has quiet hosts. */
  logLevel: string;
  /** Modules to import before `ready` (a spare, for the root it will likely run). */
  preload?: string[];
  /** Its root's spawn comes with its start (launch.ts's `first`): the host was started for it. */
  rootComing?: boolean;
  /** A thread's code cache (host-code.ts), from an earlier host of its kind. */
  codeCache?: CodeCache;
  /** The descriptor a process inherits its code cache on, likewise. */
  codeCacheFd?: number;
  /** A thread's channel for its frames while its parent is behind, read at the parent's pace (pulled-frames.ts). */
  frames?: PulledChannel;
}

const boot: HostBoot = isMainThread ? JSON.parse(process.env.SESSIONVISOR_HOST ?? "null") : workerData;
if (!boot || typeof boot.node !== "string") throw new Error("host-main runs only as a sessionvisor host");
// They load while the host sets itself up (they run only once this module's synchronous part
// has, as before), and are awaited before `ready`. A module that fails here fails again at the
// spawn that needs it, which reports it.
const preloaded = Promise.all(
  (boot.preload ?? []).map((module) => loadModule(module).catch(() => undefined)),
);
/** How this host's library code was loaded; a host that compiled it sends its cache, once. */
const code = hostCode();
let codeCacheSent = code?.state !== "compiled";

/** This host's OS thread (Linux): the programs a thread host's code starts are its children. */
const tid = currentOsThreadId();
/** How long a host waits for its last words to be written before it exits anyway. */
const LAST_WORDS_TIMEOUT_MS = 1000;
/** How long a stopping thread host lets its loop reap the programs it killed. */
const REAP_WAIT_MS = 500;
/**
 * A thread whose parent has not handled this much of what it sent (64 frames' worth) posts on
 * its pulled channel: its parent is behind, and would be handed the whole backlog at once.
 */
const PULL_WHEN_BEHIND_BYTES = 64 * FRAME_COST_BYTES;

/**
 * Puts a frame on the host's usual channel; `sent` runs once it is written. Used directly,
 * outside flow control, for last words and a flood's notice: the parent reads them at once, not
 * behind the frames a thread has put on its pulled channel.
 */
const postRaw: (frame: Frame, sent?: () => void) => void = isMainThread
  ? (frame, sent) => {
      if (process.connected) process.send?.(frame, undefined, {}, () => sent?.());
      else sent?.();
    }
  : (frame, sent) => {
      parentPort?.postMessage(frame);
      sent?.();
    };

const window = new SendWindow(boot.maxInFlightBytes);

/**
 * Puts a frame on the channel; a thread's frames go on its pulled channel while its parent is
 * behind (pulled-frames.ts). The channel is taken out of `workerData`, which the host's code can read.
 */
const postFrame: (frame: Frame) => void = boot.frames
  ? framePoster(
      boot.frames,
      {
        behind: () => window.bytes > PULL_WHEN_BEHIND_BYTES,
        sent: () => window.sentFrames,
        handled: () => window.handled,
      },
      (frame) => parentPort?.postMessage(frame),
      () => parentPort?.postMessage(BELL),
    )
  : postRaw;
delete boot.frames;
let flooded = false;

/**
 * Every frame to the parent goes here. Past the in-flight budget the host says so and exits: its
 * parent drops what it had not handled yet, and reports a flood.
 */
function post(frame: Frame): void {
  if (flooded) return;
  const size = frameBytes(frame);
  if (!window.admits(size)) {
    flooded = true;
    const report = { frames: window.frames, bytes: window.bytes, budget: window.budgetBytes };
    postRaw({ t: "flood", ...report });
    // A process's channel does not drain while its code loops: the exit code and stderr say it.
    if (isMainThread) writeSync(2, `sessionvisor host ${boot.node}: flood: ${floodWords(report)}\n`);
    process.exit(HOST_EXIT_FLOOD);
  }
  window.sent(size);
  postFrame(frame);
}

/** What a silent parent's hosts log through: nothing, and without loading pino to do it. */
const SILENT: Logger = {
  level: "silent",
  isLevelEnabled: () => false,
  error() {},
  warn() {},
  info() {},
  debug() {},
};
// The parent's level (silent unless its logger says otherwise): records go to stderr as JSON lines.
const logger = boot.logLevel === "silent" ? SILENT : stderrLogger(boot.logLevel);
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

/** A call nobody waits on: sent, never answered (a failure is the parent's to log). */
function notify(service: string, method: string, args: unknown[]): void {
  post({ t: "notify", service, method, args: encodeTerm(args, `${service}.${method} arguments`) });
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
    notify<T extends object>(name: string): Notifier<T> {
      return new Proxy({} as Notifier<T>, {
        get: (_target, method) =>
          typeof method === "string" && method !== "then"
            ? (...args: unknown[]) => notify(name, method, args)
            : undefined,
      });
    },
  };
}

// Every other node is reached through the parent, and so is every name not registered here.
const inbound = runtime.useRouter({
  route: () => (parent.closed ? undefined : parent),
  get namesRoute() {
    return parent;
  },
});
const parent = new Peer(runtime, inbound, boot.parentNode, post, (frame) => void control(frame));

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
        if (!codeCacheSent) {
          codeCacheSent = true;
          // After the answer, and with what the root's start compiled in it.
          setImmediate(() => post({ t: "code", cache: code?.create() ?? {} }));
        }
      } catch (error) {
        post({ t: "spawned", id: frame.id, ok: false, error: encodeReason(error) });
      }
      if (firstBeatAfterRoot) {
        firstBeatAfterRoot = false;
        setImmediate(beat);
      }
      return;
    case "service_reply": {
      const pending = serviceCalls.get(frame.id);
      serviceCalls.delete(frame.id);
      if (frame.ok) pending?.resolve(decodeTerm(frame.value));
      else pending?.reject(decodeTerm(frame.error));
      return;
    }
    case "ack":
      window.acked(frame.handled);
      return;
    case "stop":
      await runtime.shutdown(boot.stopTimeoutMs);
      // A thread's programs are reaped by its own event loop: kill them while it still runs.
      if (!isMainThread && tid !== undefined) {
        killDescendants(process.pid, tid);
        await childrenReaped(process.pid, tid, REAP_WAIT_MS);
      }
      process.exit(0);
  }
}

/**
 * Loaded at the first heartbeat, one turn after `ready` — or, in a host started for a root, one
 * turn after the root's answer: `node:v8` is ~1 ms of a new host's start, which the root's spawn
 * (already on its way) would otherwise wait behind.
 */
let v8: typeof import("node:v8") | undefined;

function memory(): HostMemory {
  v8 ??= createRequire(import.meta.url)("node:v8") as typeof import("node:v8");
  const heap = v8.getHeapStatistics();
  const usage = process.memoryUsage();
  return {
    heapUsed: heap.used_heap_size,
    heapLimit: heap.heap_size_limit,
    external: heap.external_memory,
    rss: usage.rss,
  };
}

let dying = false;

/**
 * An uncaught error or unhandled rejection ends the host. Its last words go to the parent over
 * the channel, so the parent names the error whatever the mode; a process host also writes
 * them to stderr, which the parent reads when the channel is gone.
 */
function die(error: unknown): void {
  if (dying) return;
  dying = true;
  const words = lastWords(error);
  const stack = error instanceof Error && error.stack ? error.stack : words;
  const outOfMemory = soundsOutOfMemory(stack);
  const code = outOfMemory ? HOST_EXIT_OUT_OF_MEMORY : HOST_EXIT_UNCAUGHT;
  if (isMainThread) {
    const frames = stack.split("\n").filter((line) => /^\s+at /.test(line));
    writeSync(2, `sessionvisor host ${boot.node}: uncaught ${[words, ...frames].join("\n")}\n`);
  }
  const exit = () => process.exit(code);
  // A channel that does not drain (the parent stalled) must not keep a dead host alive.
  setTimeout(exit, LAST_WORDS_TIMEOUT_MS);
  postRaw({ t: "fatal", how: outOfMemory ? "out_of_memory" : "error", words }, exit);
}

/**
 * Programs the host's code started go with the host. A thread kills what its own OS thread
 * forked (the parent kills them when it terminates the thread, which skips this); a process
 * kills its descendants, and its process group catches any the parent's kill would miss.
 */
function reapPrograms(): void {
  if (isMainThread) killDescendants(process.pid);
  // Without its thread's id a thread cannot tell its programs from the rest of the process's.
  else if (tid !== undefined) killDescendants(process.pid, tid);
}

process.on("uncaughtException", die);
process.on("exit", reapPrograms);

/** Frames that came before `ready` went out (the root's spawn comes with the host's start). */
let early: Frame[] | undefined = [];
const onFrame = (frame: Frame) => {
  if (early) early.push(frame);
  else void parent.receive(frame);
};
if (isMainThread) {
  process.on("message", onFrame);
  // A host never outlives its parent: no orphan processes, whatever killed the parent. It
  // takes its process group with it: its programs, and itself.
  process.on("disconnect", () => {
    reapPrograms();
    killProcessGroup(process.pid);
    process.exit(0);
  });
} else {
  parentPort?.on("message", onFrame);
}
const beat = () => post({ t: "heartbeat", memory: memory() });
let firstBeatAfterRoot = boot.rootComing === true;
setInterval(beat, boot.heartbeatMs);
// Not a top-level await: the bundle runs this file as CommonJS (host-code.ts).
void preloaded.then(() => {
  post({ t: "ready", node: boot.node, code: code?.state ?? "source", ...(tid === undefined ? {} : { tid }) });
  const before = early ?? [];
  early = undefined;
  for (const frame of before) void parent.receive(frame);
  if (!firstBeatAfterRoot) setImmediate(beat);
});
