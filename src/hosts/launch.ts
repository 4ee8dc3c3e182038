/**
 * Starts one host (a worker thread or a child process running `host-main`), watches it, and
 * reports its death exactly once, with how it died. It knows nothing of runtimes: frames in,
 * frames out. `Hosts` ties a launched host to the runtime and the registry.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { MessageChannel, Worker } from "node:worker_threads";
import {
  keepCodeCache,
  PROCESS_CODE_CACHE_FD,
  processCodeCacheFile,
  threadCodeCache,
} from "./code-caches.js";
import { HostStartError } from "./errors.js";
import { floodWords, Inbound } from "./flow-control.js";
import type { Frame, HostMemory } from "./frames.js";
import type { HostCodeState } from "./host-code.js";
import {
  HOST_EXIT_FLOOD,
  HOST_EXIT_OUT_OF_MEMORY,
  HOST_EXIT_UNCAUGHT,
  type HostDownCause,
  type HostDownError,
  hostDown,
  lastWords,
  soundsOutOfMemory,
} from "./host-down.js";
import type { HostBoot } from "./host-main.js";
import type { HostKind, HostLimits } from "./limits.js";
import { BELL, PulledFrames } from "./pulled-frames.js";
import {
  childrenReaped,
  descendantsOf,
  hasChildren,
  killDescendants,
  killProcessGroup,
  killProgramGroups,
  type ProgramGroup,
  programGroupsOf,
} from "./reap.js";

export interface LaunchOptions {
  kind: HostKind;
  node: string;
  parentNode: string;
  limits: HostLimits;
  logLevel: string;
  /**
   * Modules the host imports before it says it is ready (a spare, for the root it will run), so
   * that a spawn there does not wait for them to load. One that fails to load is left for the
   * spawn to report.
   */
  preload?: readonly string[] | undefined;
  /**
   * A frame sent the moment the thread or process exists, not after its `ready` (the spawn of
   * the root a cold host is started for): the host handles it right after it says it is ready,
   * so the start does not wait for `ready` to reach the parent and the spawn to reach the host.
   * Frames the host answers with may come in the same turn as `ready`.
   */
  first?: Frame | undefined;
  /**
   * Every frame the host sends after `ready`. A promise means its handling goes on (a call to
   * answer, a service request): the frame counts against the host's in-flight budget until then.
   */
  onFrame(frame: Frame): undefined | Promise<unknown>;
  /** Called once, when the host is found dead, hung or gone; not called for a failed start. */
  onDeath(reason: HostDownError): void;
  /**
   * Called when the host may be hung: silent for half its hang timeout, or for all but the last
   * STANDBY_LEAD_MS of it when that is longer (a standby needs that long to boot; a healthy host
   * on a loaded machine is rarely silent that long). Once per silence: again only after it has
   * spoken since.
   */
  onSilent?: (() => void) | undefined;
}

/** A running host, as its parent sees it. */
export interface LaunchedHost {
  readonly kind: HostKind;
  readonly node: string;
  /** The OS process the host runs in (for a thread host, the parent's own pid). */
  readonly osPid: number;
  /** The worker's thread id (thread hosts only). */
  readonly threadId: number | undefined;
  readonly startedAt: Date;
  /** Whether the OS enforces `maxMemoryMb` on this host (process hosts, where prlimit exists). */
  readonly memoryLimitEnforced: boolean;
  /** From the latest heartbeat. */
  readonly memory: HostMemory | undefined;
  /** How it loaded the library: from an earlier host's code cache, compiled, or from source (tsx). */
  readonly code: HostCodeState | undefined;
  readonly dead: boolean;
  /** Resolves when the thread or process is really gone (after `onDeath`, which may come first). */
  readonly gone: Promise<void>;
  post(frame: Frame): void;
  /** Asks the host to stop its processes and exit; kills it after `limits.stopTimeoutMs`. */
  stop(): Promise<void>;
  /** Kills it now; its death is reported with `cause`. */
  kill(cause: HostDownCause, message?: string): Promise<void>;
}

const SOURCE_MODE = import.meta.url.endsWith(".ts");
// Beside this module: in src/hosts under tsx, and in the built bundle (scripts/bundle.mjs) at the
// top of dist/, where the chunk holding this code sits beside the entry `host-main.cjs` (the
// host's entry as CommonJS, which loads the host's chunks from a code cache: host-code.ts).
const ENTRY = new URL(SOURCE_MODE ? "./host-main.ts" : "./host-main.cjs", import.meta.url);
const STDERR_TAIL = 4096;
const MIB = 1024 * 1024;
const FLOOD_WORDS = "it sent more than its limit (maxInFlightMb) that its parent had not handled yet";
/**
 * How often the parent notes the process groups of a host's programs: a program started and
 * left behind within this long of the host's death is not seen.
 */
const PROGRAM_SAMPLE_MS = 250;
/** How long a killed thread host's loop is given to reap the programs killed with it. */
const REAP_WAIT_MS = 200;
const WASM_FLAG = "--disable-wasm-trap-handler";
const WASM_FLAG_SUPPORTED = process.allowedNodeEnvironmentFlags.has(WASM_FLAG);

/** How long before its hang verdict a silent host is reported (`onSilent`), at most. */
export const STANDBY_LEAD_MS = 1000;

/** How often a host beats, for a hang timeout: several beats fit in one timeout. */
export function heartbeatInterval(hangTimeoutMs: number): number {
  return Math.max(5, Math.min(1000, Math.floor(hangTimeoutMs / 5)));
}

export function launchHost(options: LaunchOptions): Promise<LaunchedHost> {
  const boot: HostBoot = {
    node: options.node,
    parentNode: options.parentNode,
    kind: options.kind,
    heartbeatMs: heartbeatInterval(options.limits.hangTimeoutMs),
    stopTimeoutMs: options.limits.stopTimeoutMs,
    maxInFlightBytes: options.limits.maxInFlightMb * MIB,
    logLevel: options.logLevel,
    preload: [...(options.preload ?? [])],
    ...(options.first?.t === "spawn" ? { rootComing: true } : {}),
  };
  const host = options.kind === "thread" ? new ThreadHost(options, boot) : new ProcessHost(options, boot);
  // Queued until the host listens: a worker's port and a child's channel both hold it.
  if (options.first) host.post(options.first);
  return host.started;
}

/** What the two kinds of host share: readiness, the watchdog, and dying once. */
abstract class HostBase implements LaunchedHost {
  abstract readonly kind: HostKind;
  abstract readonly osPid: number;
  abstract readonly threadId: number | undefined;
  abstract readonly memoryLimitEnforced: boolean;
  readonly node: string;
  readonly startedAt = new Date();
  memory: HostMemory | undefined;
  code: HostCodeState | undefined;
  private codeKept = false;
  dead = false;
  readonly started: Promise<LaunchedHost>;
  readonly gone: Promise<void>;
  protected ready = false;
  /** Set when we kill the host, so its exit is reported as what we killed it for. */
  protected killedFor: { cause: HostDownCause; message?: string | undefined } | undefined;
  /** What the host said of the error that ended it, if it could say it (`fatal`). */
  protected fatal: Extract<Frame, { t: "fatal" }> | undefined;
  /** The host's OS thread, from its `ready` (Linux). */
  protected osThreadId: number | undefined;
  /** The process groups of the programs the host ran at its last heartbeat (see programGroupsOf). */
  private programGroups: ProgramGroup[] = [];
  private programsSampledAt = Number.NEGATIVE_INFINITY;
  private programSampleTimer: NodeJS.Timeout | undefined;
  protected readonly inbound: Inbound;
  private stopping = false;
  private lastSeen = performance.now();
  private watchdog: NodeJS.Timeout | undefined;
  private startTimer: NodeJS.Timeout | undefined;
  private resolveStart!: (host: LaunchedHost) => void;
  private rejectStart!: (error: unknown) => void;
  private markGone!: () => void;

  constructor(protected readonly options: LaunchOptions) {
    this.node = options.node;
    this.started = new Promise((resolve, reject) => {
      this.resolveStart = resolve;
      this.rejectStart = reject;
    });
    this.gone = new Promise((resolve) => {
      this.markGone = resolve;
    });
    this.inbound = new Inbound(
      options.limits.maxInFlightMb * MIB,
      (frame) => this.handle(frame),
      (handled) => this.post({ t: "ack", handled }),
      (waitingBytes) =>
        void this.kill(
          "flood",
          `${(waitingBytes / MIB).toFixed(1)} MB of its frames were waiting for the parent, over its limit of ${options.limits.maxInFlightMb} MB (maxInFlightMb)`,
        ),
    );
    this.startTimer = setTimeout(() => {
      this.failStart(`it did not become ready within ${options.limits.startTimeoutMs} ms`);
      void this.forceKill();
    }, options.limits.startTimeoutMs);
  }

  abstract post(frame: Frame): void;
  /** The living processes the host started (and theirs), as /proc shows them now. */
  protected abstract programs(): number[];
  /**
   * Ends the thread or process now. `promptly`: at once, with no grace for tidying up — the
   * parent may itself be stuck handling the host's frames, and only a synchronous kill stops them.
   */
  protected abstract forceKill(promptly?: boolean): Promise<void>;

  stop(): Promise<void> {
    if (!this.dead && !this.stopping) {
      this.stopping = true;
      try {
        this.post({ t: "stop" });
      } catch {
        void this.forceKill();
      }
      const timer = setTimeout(
        () => void this.kill("exit", "did not stop in time"),
        this.options.limits.stopTimeoutMs,
      );
      void this.gone.then(() => clearTimeout(timer));
    }
    return this.gone;
  }

  kill(cause: HostDownCause, message?: string): Promise<void> {
    this.killedFor ??= { cause, message };
    // Ended before its death is reported: a hung host's thread or process stops spinning before
    // the restart its death sets off (a new host booting) needs the core it holds.
    void this.forceKill(cause === "flood");
    this.die(hostDown(this.node, this.kind, cause, message === undefined ? {} : { message }));
    return this.gone;
  }

  /** A frame arrived: it is queued, in order, and handled in the parent's own time. */
  protected received(frame: Frame): void {
    if (this.dead) return;
    const now = performance.now();
    this.lastSeen = now;
    this.noteProgramGroups(now);
    // Last words are kept at once: the host's exit may be judged before its queue is handled.
    if (frame.t === "fatal") this.fatal = frame;
    // A host over its budget is stopped at once; what it sent and we did not handle is dropped.
    else if (frame.t === "flood") void this.kill("flood", floodWords(frame));
    else this.inbound.push(frame);
  }

  private handle(frame: Frame): undefined | Promise<unknown> {
    switch (frame.t) {
      case "heartbeat":
        this.memory = frame.memory;
        return undefined;
      case "code":
        // Only a host that compiled the library sends one, once; anything else is ignored.
        if (this.code === "compiled" && !this.codeKept)
          keepCodeCache(this.kind, this.options.limits, frame.cache);
        this.codeKept = true;
        return undefined;
      case "ready":
        if (this.ready) return undefined;
        this.ready = true;
        this.code = frame.code;
        this.osThreadId = frame.tid;
        clearTimeout(this.startTimer);
        this.startWatchdog();
        this.resolveStart(this);
        return undefined;
      default:
        return this.ready && !this.dead ? this.options.onFrame(frame) : undefined;
    }
  }

  /**
   * Notes the host's program groups: at a heartbeat or any frame (a program is started while the
   * host works, and it talks then), at most every PROGRAM_SAMPLE_MS, and once more at the end of
   * a window in which it was asked and skipped, so the state after a burst of work is seen.
   */
  private noteProgramGroups(now = performance.now()): void {
    if (this.dead) return;
    const wait = this.programsSampledAt + PROGRAM_SAMPLE_MS - now;
    if (wait > 0) {
      if (this.programSampleTimer === undefined) {
        this.programSampleTimer = setTimeout(() => {
          this.programSampleTimer = undefined;
          this.noteProgramGroups();
        }, wait);
        this.programSampleTimer.unref();
      }
      return;
    }
    this.programsSampledAt = now;
    this.programGroups = programGroupsOf(this.programs());
  }

  /** The thread or process is gone; `cause` is how it looks from outside. */
  protected exited(cause: HostDownCause, detail: { code?: number; signal?: string; message?: string }): void {
    // What a host said before it ended by itself still counts (a reply, a key dropped); a
    // flood's backlog does not.
    if (!this.dead && cause !== "flood") this.inbound.flush();
    if (!this.ready) this.failStart(`it exited before it was ready (${describe(cause, detail)})`);
    // Whatever the host left running in groups of their own (servers, commands) ends with it,
    // however it ended: it cannot stop them any more, and nothing else would.
    killProgramGroups(this.programGroups);
    this.programGroups = [];
    const killed = this.killedFor;
    const final = killed ? { ...detail, ...(killed.message ? { message: killed.message } : {}) } : detail;
    this.die(hostDown(this.node, this.kind, killed?.cause ?? (this.stopping ? "exit" : cause), final));
    this.markGone();
  }

  /** Reports the death once, however many ways it shows (a worker's `error` and `exit`, a watchdog and a signal). */
  private die(reason: HostDownError): void {
    if (this.dead) return;
    this.dead = true;
    this.inbound.close();
    clearTimeout(this.watchdog);
    clearTimeout(this.programSampleTimer);
    clearTimeout(this.startTimer);
    if (this.ready) this.options.onDeath(reason);
  }

  private failStart(problem: string): void {
    if (this.ready) return;
    this.dead = true;
    clearTimeout(this.startTimer);
    this.rejectStart(new HostStartError(this.kind, problem));
  }

  /**
   * One timer, set for the moment the host's silence would pass `hangTimeoutMs` (or, with
   * `onSilent`, the moment it may be hung first) and set again whenever it fires early (a frame
   * came since): the hang is seen when it happens, not up to a polling tick later. The verdict
   * waits one turn of the event loop, so frames that arrived while this thread was busy are
   * read first.
   */
  private startWatchdog(): void {
    const { hangTimeoutMs } = this.options.limits;
    const onSilent = this.options.onSilent;
    const suspectMs = onSilent ? Math.max(hangTimeoutMs / 2, hangTimeoutMs - STANDBY_LEAD_MS) : hangTimeoutMs;
    // A timer that fires this late means this thread was stalled (a loaded machine, a long GC):
    // heartbeats that came meanwhile may still wait behind the loop's timers, so one more turn.
    const lateMs = Math.max(50, hangTimeoutMs / 4);
    let skipped = false;
    /** The `lastSeen` of the silence already reported to `onSilent`. */
    let reportedSilence = Number.NaN;
    const arm = (delayMs: number) => {
      const due = performance.now() + delayMs;
      this.watchdog = setTimeout(() => {
        const late = performance.now() - due > lateMs && !skipped;
        skipped = late;
        setImmediate(() => judge(late));
      }, delayMs);
      this.watchdog.unref();
    };
    const judge = (late: boolean) => {
      if (this.dead) return;
      const silent = performance.now() - this.lastSeen;
      if (late) arm(Math.max(5, Math.min(100, Math.floor(hangTimeoutMs / 10))));
      else if (silent > hangTimeoutMs) void this.kill("hang", `no heartbeat for ${Math.round(silent)} ms`);
      else if (silent > suspectMs) {
        if (reportedSilence !== this.lastSeen) {
          reportedSilence = this.lastSeen;
          onSilent?.();
        }
        arm(hangTimeoutMs - silent + 1);
      } else arm(suspectMs - silent + 1);
    };
    arm(suspectMs + 1);
  }
}

class ThreadHost extends HostBase {
  readonly kind = "thread" as const;
  readonly osPid = process.pid;
  readonly threadId: number;
  readonly memoryLimitEnforced = false;
  private readonly worker: Worker;
  private readonly frames: PulledFrames<Frame>;
  private lastError: Error | undefined;

  constructor(options: LaunchOptions, boot: HostBoot) {
    super(options);
    const codeCache = threadCodeCache();
    const channel = new MessageChannel();
    const flag = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
    this.frames = new PulledFrames(
      channel.port1,
      flag,
      (frame) => this.received(frame),
      () => this.inbound.backlog === 0,
    );
    const frames = { port: channel.port2, flag };
    const workerOptions = {
      workerData: codeCache === undefined ? { ...boot, frames } : { ...boot, codeCache, frames },
      transferList: [channel.port2],
      resourceLimits: { maxOldGenerationSizeMb: options.limits.maxHeapMb },
    };
    // Under tsx (tests, `npm start`) a worker does not inherit the loader: it registers it itself.
    this.worker = SOURCE_MODE
      ? new Worker(
          `const { register } = await import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))});
           register();
           await import(${JSON.stringify(ENTRY.href)});`,
          { ...workerOptions, eval: true },
        )
      : new Worker(ENTRY, workerOptions);
    this.threadId = this.worker.threadId;
    // Its frames come here while this parent keeps up, and on the pulled channel while it is
    // behind, rung for here; last words come here too. Whatever comes here is counted against
    // the budget like the rest, whoever posted it.
    this.worker.on("message", (frame: Frame | typeof BELL) =>
      frame === BELL ? this.frames.rang() : this.received(frame),
    );
    // `error` comes first and `exit` always follows: the death is judged once, at `exit`.
    this.worker.on("error", (error) => {
      this.lastError = error;
    });
    this.worker.on("exit", (code) => {
      // What it posted before it ended is all on the channel now; a host already judged dead
      // (a flood, a hang) has its backlog dropped, not decoded.
      if (!this.dead) this.frames.drain();
      this.frames.close();
      this.exited(...this.judge(code));
    });
  }

  post(frame: Frame): void {
    if (!this.dead) this.worker.postMessage(frame);
  }

  protected programs(): number[] {
    return this.osThreadId === undefined ? [] : descendantsOf(process.pid, this.osThreadId);
  }

  /**
   * Terminating a worker does not interrupt a thread blocked in native code — `execSync` waits
   * for its program (and for whatever holds the program's pipes) — so the programs the thread
   * started are killed first, while they are still known as its children.
   */
  protected async forceKill(promptly = false): Promise<void> {
    if (this.osThreadId !== undefined) {
      killDescendants(process.pid, this.osThreadId);
      // A thread whose loop still runs reaps them; one that is stuck leaves zombies. With none
      // to reap, it is terminated now, not a turn of promises later.
      if (!promptly && hasChildren(process.pid, this.osThreadId))
        await childrenReaped(process.pid, this.osThreadId, REAP_WAIT_MS);
    }
    await this.worker.terminate();
  }

  private judge(code: number): [HostDownCause, { code?: number; message?: string }] {
    const error = this.lastError;
    const fatal = this.fatal;
    if ((error as NodeJS.ErrnoException | undefined)?.code === "ERR_WORKER_OUT_OF_MEMORY") {
      return ["out_of_memory", { message: error?.message as string }];
    }
    // An error the host could not report itself (one thrown before its handlers were set).
    const words = fatal?.words ?? (error ? lastWords(error) : undefined);
    const message = words === undefined ? {} : { message: words };
    if (
      fatal?.how === "out_of_memory" ||
      code === HOST_EXIT_OUT_OF_MEMORY ||
      (words && soundsOutOfMemory(words))
    ) {
      return ["out_of_memory", { code, ...message }];
    }
    if (fatal || error || code === HOST_EXIT_UNCAUGHT) return ["error", { code, ...message }];
    if (code === HOST_EXIT_FLOOD) return ["flood", { code, message: FLOOD_WORDS }];
    return ["exit", { code }];
  }
}

class ProcessHost extends HostBase {
  readonly kind = "process" as const;
  readonly threadId = undefined;
  readonly memoryLimitEnforced: boolean;
  private readonly child: ChildProcess;
  private stderrTail = "";

  constructor(options: LaunchOptions, boot: HostBoot) {
    super(options);
    const prlimit = findOnPath("prlimit");
    this.memoryLimitEnforced = prlimit !== undefined;
    const nodeArgs = [
      // WebAssembly reserves ~10 GB of address space per memory for its guard pages, which an
      // address-space limit forbids; without the trap handler it bounds-checks instead.
      ...(prlimit && WASM_FLAG_SUPPORTED ? [WASM_FLAG] : []),
      ...(SOURCE_MODE ? ["--import", import.meta.resolve("tsx")] : []),
      `--max-old-space-size=${options.limits.maxHeapMb}`,
      fileURLToPath(ENTRY),
    ];
    // prlimit sets RLIMIT_AS and execs node, so the limit is the kernel's, and child.pid is node's.
    const [command, args] = prlimit
      ? [prlimit, [`--as=${options.limits.maxMemoryMb * 1024 * 1024}`, "--", process.execPath, ...nodeArgs]]
      : [process.execPath, nodeArgs];
    const cacheFile = processCodeCacheFile(options.limits);
    this.child = spawn(command, args, {
      // The fifth: the code cache (PROCESS_CODE_CACHE_FD), when there is one.
      stdio: ["ignore", "inherit", "pipe", "ipc", ...(cacheFile === undefined ? [] : [cacheFile])],
      serialization: "advanced",
      env: {
        ...process.env,
        SESSIONVISOR_HOST: JSON.stringify(
          cacheFile === undefined ? boot : { ...boot, codeCacheFd: PROCESS_CODE_CACHE_FD },
        ),
      },
      // A process group of its own (prlimit execs node, so its pid leads it): one signal to the
      // group reaches every program the host's code started, wherever they were re-parented.
      detached: true,
    });
    const pid = this.child.pid;
    if (pid !== undefined) {
      livingProcessHosts.add(pid);
      killGroupsWhenThisProcessExits();
    }
    this.child.stderr?.on("data", (chunk: Buffer) => {
      process.stderr.write(chunk);
      this.stderrTail = (this.stderrTail + chunk.toString("utf8")).slice(-STDERR_TAIL);
    });
    this.child.on("message", (frame: Frame) => this.received(frame));
    // The host is gone; what it started may not be. Its group goes too (`close` can wait for
    // them: a program that inherited the host's stderr holds the pipe open).
    this.child.on("exit", () => {
      if (pid === undefined) return;
      livingProcessHosts.delete(pid);
      killProcessGroup(pid);
    });
    this.child.on("error", (error) => {
      // Spawning failed (no such file) or a signal could not be sent; only the first matters.
      if (this.child.pid === undefined) this.exited("error", { message: error.message });
    });
    // `close` and not `exit`: by then stderr is read, and it says whether memory ran out.
    this.child.on("close", (code, signal) => this.exited(...this.judge(code, signal)));
  }

  get osPid(): number {
    return this.child.pid ?? -1;
  }

  post(frame: Frame): void {
    if (!this.dead && this.child.connected) this.child.send(frame);
  }

  protected programs(): number[] {
    const pid = this.child.pid;
    return pid === undefined ? [] : descendantsOf(pid);
  }

  /** The host, its process group, and any of its descendants that left the group (`setsid`). */
  protected async forceKill(): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined || this.child.exitCode !== null || this.child.signalCode !== null) return;
    killDescendants(pid);
    killProcessGroup(pid);
    this.child.kill("SIGKILL");
  }

  private judge(
    code: number | null,
    signal: NodeJS.Signals | null,
  ): [HostDownCause, { code?: number; signal?: string; message?: string }] {
    // The host's own words over the channel; else what it wrote to stderr before dying.
    const words =
      this.fatal?.words ?? markedLine(this.stderrTail, this.node, "uncaught ") ?? lastLine(this.stderrTail);
    const message = words ? { message: words } : {};
    if (
      this.fatal?.how === "out_of_memory" ||
      code === HOST_EXIT_OUT_OF_MEMORY ||
      soundsOutOfMemory(this.stderrTail)
    ) {
      return [
        "out_of_memory",
        { ...(code === null ? {} : { code }), ...(signal ? { signal } : {}), ...message },
      ];
    }
    if (signal === "SIGKILL") return ["killed", { signal }];
    if (signal) return ["signal", { signal, ...message }];
    if (this.fatal || code === HOST_EXIT_UNCAUGHT) return ["error", { code: code ?? 0, ...message }];
    if (code === HOST_EXIT_FLOOD) {
      return ["flood", { code, message: markedLine(this.stderrTail, this.node, "flood: ") ?? FLOOD_WORDS }];
    }
    return ["exit", { code: code ?? 0 }];
  }
}

/** Process hosts alive now, by pid: their groups are killed if this process exits first. */
const livingProcessHosts = new Set<number>();
let exitHookInstalled = false;

/**
 * A process that exits normally (or by `process.exit`) takes its hosts' groups with it. One
 * killed by a signal cannot; its hosts see their channel close and kill their own groups.
 */
function killGroupsWhenThisProcessExits(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const pid of livingProcessHosts) {
      killDescendants(pid);
      killProcessGroup(pid);
    }
  });
}

/** The words of the line a host writes to stderr as it dies (`uncaught …`, `flood: …`). */
function markedLine(stderr: string, node: string, kind: string): string | undefined {
  const marker = `sessionvisor host ${node}: ${kind}`;
  const at = stderr.lastIndexOf(marker);
  if (at < 0) return undefined;
  const end = stderr.indexOf("\n", at);
  return stderr.slice(at + marker.length, end < 0 ? undefined : end).trim() || undefined;
}

function lastLine(text: string): string | undefined {
  const lines = text.split("\n").map((line) => line.trim());
  return lines.filter((line) => line.length > 0).at(-1);
}

function describe(
  cause: HostDownCause,
  detail: { code?: number; signal?: string; message?: string },
): string {
  return [
    cause,
    detail.code === undefined ? "" : `code ${detail.code}`,
    detail.signal ?? "",
    detail.message ?? "",
  ]
    .filter(Boolean)
    .join(", ");
}

let prlimitPath: string | null | undefined;

function findOnPath(program: string): string | undefined {
  if (prlimitPath === undefined) {
    prlimitPath = null;
    if (process.platform === "linux") {
      for (const dir of (process.env.PATH ?? "").split(delimiter)) {
        try {
          accessSync(join(dir, program), constants.X_OK);
          prlimitPath = join(dir, program);
          break;
        } catch {}
      }
    }
  }
  return prlimitPath ?? undefined;
}
