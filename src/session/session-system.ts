import { isAbsolute } from "node:path";
import { pathToFileURL } from "node:url";
import {
  checkIsolation,
  type HostInfo,
  type HostLimits,
  type HostMemory,
  Hosts,
  type Isolation,
  resolveLimits,
} from "../hosts/index.js";
import { defaultProviders, type ProviderRegistry } from "../llm/index.js";
import { PubSub, Registry, type Subscription } from "../registry/index.js";
import {
  type Clock,
  InvalidArgumentError,
  type Logger,
  NoProcError,
  type Pid,
  Runtime,
  type Target,
} from "../runtime/index.js";
import { MemorySessionStore, type SessionStore, SqliteSessionStore } from "../store/index.js";
import { type Caller, type RestartBudget, requester, Supervisor } from "../supervision/index.js";
import { checkBudget } from "../supervision/restart-intensity.js";
import {
  checkAddFileArguments,
  checkFilePath,
  checkListener,
  checkSendArguments,
  checkSubscription,
  checkTurnTimeout,
  copyOptions,
  optionOf,
} from "./api-arguments.js";
import { sessionCallTimeouts } from "./call-timeouts.js";
import { parseSessionConfig, type SessionConfig, type SessionConfigInput } from "./config.js";
import type { ContextManagerRequests } from "./context-requests.js";
import type { ConversationTurn, FileEntry } from "./context-state.js";
import { ContextStore } from "./context-store.js";
import { readContextSnapshot } from "./conversation-schema.js";
import { type ManagerDeps, publish, SESSION_MANAGER_NAME } from "./deps.js";
import { SessionNotFoundError, SessionUnavailableError, ToolCallNotPendingError } from "./errors.js";
import { DEFAULT_RETAINED_EVENTS, EventLog } from "./event-log.js";
import { subscribeWithReplay } from "./event-replay.js";
import type { SessionEvent, SessionEventListener } from "./events.js";
import { SESSION_SERVICE, type SessionService } from "./hosted-session.js";
import type { OrchestratorRequests, TurnReply } from "./llm-orchestrator.js";
import { parseSessionDocument } from "./session-document.js";
import { assertSessionId, GLOBAL_SESSION_TOPIC, sessionKeys, sessionTopic } from "./session-id.js";
import type { SessionInfo } from "./session-info.js";
import type { SessionDocument, SessionManagerRequests } from "./session-manager.js";
import { checkOwnership, type SessionOwnership } from "./session-ownership.js";
import { bootSessionTree, SESSION_SYSTEM_CHILD_ID } from "./system-boot.js";
import { newRequestId, sendTurn } from "./turn-call.js";
import { streamTurn, type TurnPart } from "./turn-stream.js";

const askManager = requester<SessionManagerRequests>();
const askContextManager = requester<ContextManagerRequests>();
const askOrchestrator = requester<OrchestratorRequests>();

/** Sessions one system runs at most unless told otherwise (`maxSessions`). */
export const DEFAULT_MAX_SESSIONS = 10_000;

export interface SessionSystemOptions {
  /** Run inside an existing runtime (its name service must be free); by default a new one. */
  runtime?: Runtime;
  logger?: Logger;
  clock?: Clock;
  /** Where sessions outlive their processes (default: in memory, or `storePath`). */
  store?: SessionStore;
  /**
   * An SQLite file to keep sessions in (created if missing). Sessions that were live when the
   * program stopped — cleanly or not — are started again from it, with their conversation.
   */
  storePath?: string;
  providers?: ProviderRegistry;
  /** Creating more sessions than this is a MaxSessionsError (default 10,000). */
  maxSessions?: number;
  /** Each session's own restart budget; over it, the session goes to `failed` (default 3 in 5 s). */
  sessionRestartBudget?: RestartBudget;
  /**
   * The budget all sessions share. Exceeding it stops every session, so by default there is
   * none: each session's own budget already contains a flapping session.
   */
  sharedRestartBudget?: RestartBudget;
  /**
   * How long a terminated session stays in the store, restorable under its id with
   * `restoreSession`, before it is purged (default 7 days).
   */
  retainTerminatedMs?: number;
  /** How often idle sessions are looked for, in ms (default 1000). */
  idleSweepMs?: number;
  /**
   * Each turn's deadline, in ms, from the message's arrival (default 60,000): past it the
   * provider's request is aborted, the turn is stored `timed_out` and the caller gets a
   * TurnTimedOutError. A `sendMessage` may give its own `timeoutMs`.
   */
  turnTimeoutMs?: number;
  now?: () => Date;
  /**
   * Where sessions run unless their config says otherwise: `inline` (default; this event
   * loop), `thread` (a worker thread each) or `process` (a child process each).
   */
  isolation?: Isolation;
  /** Limits of session hosts (heap, OS memory, hang timeout); a session's config may lower or raise each. */
  hostLimits?: Partial<HostLimits>;
  /** Idle hosts kept started per kind, so a session (re)starts without waiting for a boot (default 0). */
  hostSpares?: number;
  /**
   * Whether a host that may be hung (silent for half its hang timeout, or all but its last
   * second) gets a standby host started, so that a session found hung restarts without waiting
   * for a boot (default true; see `HostsOptions.standby`).
   */
  hostStandby?: boolean;
  /**
   * Providers cannot be copied into a host: a module that exports a function building the
   * ProviderRegistry hosted sessions use. Default: the built-in providers.
   */
  hostProviders?: { module: string | URL; export: string };
  /**
   * How many of each session's newest durable events are kept for `subscribe(id, listener,
   * { since })` to replay (default 100). Kept in the store, so they outlive a program restart.
   */
  retainEvents?: number;
  /**
   * Called with every session's events from the very start, as `subscribeAll` listeners: they
   * see what happens while the system boots, such as the `turn_interrupted` of a turn the last
   * run of the program was killed in. They stay subscribed until `stop`.
   */
  listeners?: SessionEventListener[];
  /**
   * A Supervisor in `runtime` to run the system's root under, as its child `session_system`:
   * when the root dies, that supervisor starts it again and the sessions come back from the
   * store. Default: the root runs on its own.
   */
  supervisor?: Pid;
  /**
   * Cluster mode: the store is shared with other systems, and this one runs only the sessions
   * it owns (see SessionOwnership). Nothing is restored at boot; `adoptSession` starts a stored
   * session here once it is owned, and `releaseSession` stops one that is no longer.
   */
  ownership?: SessionOwnership;
}

export { SESSION_SYSTEM_CHILD_ID };

/** Where one session runs, and what its host uses. */
export interface SessionHostInfo {
  readonly sessionId: string;
  readonly isolation: Isolation;
  /** The host's id (its node name); this runtime's node for an inline session. */
  readonly hostId: string;
  readonly osPid: number;
  readonly threadId: number | undefined;
  readonly memory: HostMemory | undefined;
  readonly limits: HostLimits | undefined;
  readonly startedAt: Date | undefined;
}

/**
 * The session system of the seed, and its client API: a façade over the SessionManager (which
 * creates, lists and terminates sessions), the sessions' agents (turns, files) and the event
 * bus. It checks arguments, owns what outlives the processes (runtime, store, registry, hosts,
 * event log) and boots the root tree (see system-boot.ts): a supervisor (rest_for_one) over the
 * sessions DynamicSupervisor and the manager. Sessions live under the DynamicSupervisor; the
 * manager only monitors them.
 */
export class SessionSystem implements AsyncDisposable {
  readonly runtime: Runtime;
  readonly registry: Registry;
  readonly pubsub: PubSub;
  readonly store: SessionStore;
  readonly contextStore: ContextStore;
  /** Numbers every session's events and keeps the durable ones for replay. */
  readonly eventLog: EventLog;
  /** The worker threads and child processes sessions run in. */
  readonly hosts: Hosts;
  private readonly deps: ManagerDeps;
  private readonly ownsRuntime: boolean;
  private readonly ownsStore: boolean;
  private readonly turnTimeoutMs: number;
  /** For the calls that start or stop a session's tree (sessionCallTimeouts). */
  private readonly startCallTimeoutMs: number;
  private readonly stopCallTimeoutMs: number;
  private root: Pid | undefined;
  /** The supervisor of ours the root runs under, when the options named one. */
  private parent: Pid | undefined;
  private readonly cleanups: (() => void)[] = [];

  private constructor(options: SessionSystemOptions) {
    // Every option is checked before anything is taken (the runtime's name service and router,
    // a store file), so that a refused start leaves nothing behind.
    if (options.supervisor && !options.runtime) {
      throw new InvalidArgumentError("supervisor", "needs the runtime it runs in, as `runtime`");
    }
    if (options.store && options.storePath) {
      throw new InvalidArgumentError("store", "give either store or storePath, not both");
    }
    const isolation = checkIsolation(options.isolation ?? "inline");
    const hostProviders = options.hostProviders ? checkProvidersModule(options.hostProviders) : undefined;
    if (options.hostLimits !== undefined) resolveLimits(options.hostLimits);
    if (options.hostStandby !== undefined && typeof options.hostStandby !== "boolean") {
      throw new InvalidArgumentError("hostStandby", "must be true or false");
    }
    this.turnTimeoutMs = checkTurnTimeout(options.turnTimeoutMs ?? 60_000, "turnTimeoutMs");
    checkBudget(
      options.sessionRestartBudget?.maxRestarts ?? 0,
      options.sessionRestartBudget?.period ?? 1,
      "sessionRestartBudget.",
    );
    if (options.sharedRestartBudget) {
      checkBudget(
        options.sharedRestartBudget.maxRestarts,
        options.sharedRestartBudget.period,
        "sharedRestartBudget.",
      );
    }
    this.ownsRuntime = !options.runtime;
    this.runtime = options.runtime ?? new Runtime({ logger: options.logger, clock: options.clock });
    this.ownsStore = !options.store;
    this.store =
      options.store ??
      (options.storePath ? SqliteSessionStore.open(options.storePath) : new MemorySessionStore());
    this.registry = new Registry(this.runtime, { keys: "unique", names: true });
    this.pubsub = new PubSub(this.runtime);
    this.contextStore = new ContextStore();
    const ownership = options.ownership === undefined ? undefined : checkOwnership(options.ownership);
    this.eventLog = new EventLog(this.store, this.runtime.logger, options.retainEvents, !!ownership);
    this.hosts = new Hosts(this.runtime, this.registry, {
      ...(options.hostLimits ? { limits: options.hostLimits } : {}),
      ...(options.hostSpares === undefined ? {} : { spares: options.hostSpares }),
      ...(options.hostStandby === undefined ? {} : { standby: options.hostStandby }),
    });
    const timeouts = sessionCallTimeouts(this.hosts.limits);
    this.startCallTimeoutMs = timeouts.start.outer;
    this.stopCallTimeoutMs = timeouts.stop.outer;
    this.deps = {
      runtime: this.runtime,
      registry: this.registry,
      pubsub: this.pubsub,
      store: this.store,
      contextStore: this.contextStore,
      eventLog: this.eventLog,
      providers: options.providers ?? defaultProviders(),
      now: options.now ?? (() => new Date()),
      hosting: { hosts: this.hosts, isolation, ...(hostProviders ? { providers: hostProviders } : {}) },
      ...(ownership ? { ownership } : {}),
    };
    this.hosts.provide(SESSION_SERVICE, (caller) => this.sessionService(caller.label));
  }

  /** A hosted session reaches its own conversation and topic, and nothing else. */
  private sessionService(sessionId: string): SessionService {
    const own = (id: unknown) => {
      if (id !== sessionId) {
        throw new InvalidArgumentError(
          "session id",
          `a session host for ${sessionId} may not touch ${String(id)}`,
        );
      }
    };
    return {
      getConversation: async (id) => {
        own(id);
        return this.store.getConversation(id);
      },
      getContextSnapshot: async (id) => {
        own(id);
        const stored = await this.store.getConversation(id);
        return stored ? readContextSnapshot(stored, id) : undefined;
      },
      changeConversation: async (id, change) => {
        own(id);
        await this.store.changeConversation(id, change);
      },
      publish: async (event) => {
        own(event?.sessionId);
        publish(this.deps, event);
      },
    };
  }

  static async start(given: SessionSystemOptions = {}): Promise<SessionSystem> {
    const options = copyOptions(given);
    const maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    if (!(Number.isInteger(maxSessions) && maxSessions > 0)) {
      throw new InvalidArgumentError("maxSessions", "must be a positive whole number");
    }
    const retainTerminatedMs = options.retainTerminatedMs ?? 7 * 24 * 3600 * 1000;
    if (!(Number.isInteger(retainTerminatedMs) && retainTerminatedMs >= 0)) {
      throw new InvalidArgumentError("retainTerminatedMs", "must be a whole number of ms >= 0");
    }
    const retainEvents = options.retainEvents ?? DEFAULT_RETAINED_EVENTS;
    if (!(Number.isSafeInteger(retainEvents) && retainEvents > 0)) {
      throw new InvalidArgumentError("retainEvents", "must be a positive whole number");
    }
    const { listeners = [] } = options;
    if (!(Array.isArray(listeners) && listeners.every((l) => typeof l === "function"))) {
      throw new InvalidArgumentError("listeners", "must be an array of functions");
    }
    const system = new SessionSystem(options);
    try {
      await system.boot(options, maxSessions, retainTerminatedMs);
    } catch (error) {
      // Whatever booted is stopped, the store closed and the runtime's names freed: a refused
      // start can be tried again, on the same runtime or the same file.
      await system.stop().catch(() => {});
      throw error;
    }
    return system;
  }

  private async boot(
    options: SessionSystemOptions,
    maxSessions: number,
    retainTerminatedMs: number,
  ): Promise<void> {
    for (const listener of options.listeners ?? []) this.subscribeAll(listener);
    // Numbering goes on from where the store's logs stopped, before any session publishes.
    await this.eventLog.open();
    this.parent = options.supervisor;
    const booted = await bootSessionTree({
      deps: this.deps,
      maxSessions,
      idleSweepMs: options.idleSweepMs ?? 1000,
      retainTerminatedMs,
      sessionRestartBudget: options.sessionRestartBudget ?? { maxRestarts: 3, period: 5000 },
      sharedRestartBudget: options.sharedRestartBudget ?? { maxRestarts: null, period: 5000 },
      supervisor: options.supervisor,
    });
    this.cleanups.push(booted.stopListening);
    this.root = booted.root;
  }

  // ---- sessions --------------------------------------------------------------------------

  /** Validates `config`, starts the session's tree, and resolves once it is `active`. */
  createSession(config: SessionConfigInput = {}): Promise<SessionInfo> {
    // Not async: returning the manager's promise from an async function costs two microtasks.
    let parsed: SessionConfig;
    try {
      parsed = parseSessionConfig(config, { providers: this.deps.providers.names() });
    } catch (error) {
      return Promise.reject(error);
    }
    return this.manager({ op: "create", config: parsed }, this.startCallTimeoutMs);
  }

  /** Stops the session's processes and removes its cache entries and subscriptions. */
  async terminateSession(id: string): Promise<void> {
    assertSessionId(id);
    await this.manager({ op: "terminate", id }, this.stopCallTimeoutMs);
  }

  /** The live sessions (every status but `terminated`). */
  async listSessions(): Promise<SessionInfo[]> {
    return this.manager({ op: "list" });
  }

  /**
   * The terminated sessions still kept (each restorable with `restoreSession` and exportable
   * until `retainTerminatedMs` after its end), oldest first. Read from the store: O(their number).
   */
  async listTerminatedSessions(): Promise<SessionInfo[]> {
    return this.manager({ op: "list_terminated" });
  }

  /** The session's info, or undefined if there is no such session. */
  async getSession(id: string): Promise<SessionInfo | undefined> {
    assertSessionId(id);
    return this.manager({ op: "get", id });
  }

  /**
   * Sends a user message and resolves with the model's reply once the turn completes. A
   * message sent during a turn waits its turn; a recovering session is waited for.
   */
  /** Brings back a terminated session (kept for `retainTerminatedMs`) under the same id. */
  async restoreSession(id: string): Promise<SessionInfo> {
    assertSessionId(id);
    return this.manager({ op: "restore", id }, this.startCallTimeoutMs);
  }

  /** The session's record and conversation as one JSON document (live or kept after termination). */
  async exportSession(id: string): Promise<SessionDocument> {
    assertSessionId(id);
    const stored = await this.store.getSession(id);
    if (!stored) throw new SessionNotFoundError(id);
    const conversation = await this.store.getConversation(id);
    return {
      format: "sessionvisor.session",
      version: 1,
      session: stored.record,
      ...(conversation === undefined ? {} : { conversation }),
    };
  }

  /** Starts a session from an exported document, under its original id. */
  async importSession(document: SessionDocument): Promise<SessionInfo> {
    // Checked whole here, before the manager writes anything (InvalidSessionDocumentError).
    const session = parseSessionDocument(document, { providers: this.deps.providers.names() });
    return this.manager({ op: "import", document: session }, this.startCallTimeoutMs);
  }

  /**
   * Cluster mode (`ownership`): starts here a session the shared store holds and this system
   * now owns, as a restart after a crash does — its status carries over, and a turn that was in
   * flight is marked `interrupted` with its `turn_interrupted` event. Its event numbers go on
   * past what the store holds. Already running here: its info. A terminated or unknown one:
   * SessionNotFoundError.
   */
  async adoptSession(id: string): Promise<SessionInfo> {
    assertSessionId(id);
    return this.manager({ op: "adopt", id }, this.startCallTimeoutMs);
  }

  /**
   * Cluster mode: stops the session's processes here at once and forgets it, writing nothing
   * to the store and publishing nothing — its ownership is gone and another node will run it.
   * A turn in flight fails for its caller here. Resolves with whether it ran here.
   */
  async releaseSession(id: string): Promise<boolean> {
    assertSessionId(id);
    return this.manager({ op: "release", id }, this.stopCallTimeoutMs);
  }

  /** Stops an idle session's processes to free memory; it stays listed and wakes on use. */
  async hibernateSession(id: string): Promise<void> {
    assertSessionId(id);
    await this.manager({ op: "hibernate", id }, this.stopCallTimeoutMs);
  }

  /** Starts a hibernated session's processes again (sending it a message does this too). */
  async wakeSession(id: string): Promise<SessionInfo> {
    assertSessionId(id);
    return this.manager({ op: "wake", id }, this.startCallTimeoutMs);
  }

  /**
   * Sends a user message and resolves with the turn's reply, after every model call and tool
   * call the turn made (see `TurnReply`).
   * - `timeoutMs` (default the system's `turnTimeoutMs`) is the turn's deadline, its wait behind
   *   earlier messages included: past it the turn ends `timed_out` with a TurnTimedOutError.
   * - `signal` cancels the turn, running or queued: the model's HTTP request is aborted, a
   *   running command killed with its process group, the turn stored `cancelled` with its
   *   partial reply (a `turn_cancelled` event), and this rejects with TurnCancelledError.
   * A message that arrives while a turn runs follows the session's `turns.whenBusy`.
   * - `requestId` names the message: its turn's `turn_started` event carries it (so a caller
   *   that watches the session's events, on another node say, can pick this turn's), and
   *   `cancelTurn(id, reason, { requestId })` cancels this message only. Default: a fresh one.
   */
  async sendMessage(
    id: string,
    text: string,
    given: { timeoutMs?: number; signal?: AbortSignal; requestId?: string } = {},
  ): Promise<TurnReply> {
    const requestId = optionOf(given, "requestId");
    if (requestId !== undefined && !(typeof requestId === "string" && /^[\x21-\x7e]{1,200}$/.test(requestId)))
      throw new InvalidArgumentError("requestId", "must be 1-200 printable ASCII characters without spaces");
    return this.send(id, text, given, requestId);
  }

  private async send(
    id: string,
    text: string,
    given: { timeoutMs?: number; signal?: AbortSignal },
    requestId: string | undefined,
  ): Promise<TurnReply> {
    assertSessionId(id);
    const options = checkSendArguments(text, given);
    const pid = await this.availableAgent(id, "orchestrator", options.timeoutMs);
    const timeoutMs = options.timeoutMs ?? this.turnTimeoutMs;
    const { signal } = options;
    return sendTurn(this.runtime, pid, { sessionId: id, text, timeoutMs, signal, requestId }, () =>
      this.getSession(id),
    );
  }

  /**
   * Sends a user message and yields its turn as it happens: `turn_started`, text deltas, tool
   * calls, their results, approval requests, then `done` with the reply. A failed turn throws
   * from the loop. Breaking out of the loop (or `signal`) cancels the turn.
   *
   * ```ts
   * for await (const part of system.stream(id, "tool read_file README.md")) {
   *   if (part.type === "text") process.stdout.write(part.text);
   * }
   * ```
   */
  stream(
    id: string,
    text: string,
    given: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): AsyncIterableIterator<TurnPart> {
    assertSessionId(id);
    const options = checkSendArguments(text, given);
    return streamTurn(
      {
        subscribe: (listener) => this.subscribe(id, listener),
        unsubscribe: (subscription) => this.unsubscribe(subscription),
        send: (requestId, signal) =>
          this.send(
            id,
            text,
            { signal, ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) },
            requestId,
          ),
      },
      newRequestId(),
      options.signal,
    );
  }

  /**
   * Cancels the session's running turn, as its caller's signal would (see `sendMessage`);
   * messages waiting behind it are not touched. Resolves with whether a turn was running.
   * With `requestId`, cancels that message's turn only, running or waiting.
   */
  async cancelTurn(id: string, reason?: string, options: { requestId?: string } = {}): Promise<boolean> {
    assertSessionId(id);
    if (reason !== undefined && (typeof reason !== "string" || reason.length > 10_000))
      throw new InvalidArgumentError("reason", "must be text of at most 10000 characters");
    const requestId = optionOf(options, "requestId");
    if (requestId !== undefined && (typeof requestId !== "string" || requestId.length === 0))
      throw new InvalidArgumentError("requestId", "must be the requestId of a sendMessage");
    const pid = this.registry.whereis(sessionKeys(id).orchestrator);
    if (!pid) {
      if (!(await this.getSession(id))) throw new SessionNotFoundError(id);
      return false;
    }
    return askOrchestrator(this.runtime, pid, {
      op: "cancel",
      ...(reason === undefined ? {} : { reason }),
      ...(requestId === undefined ? {} : { requestId: requestId as string }),
    });
  }

  /** Lets a tool call that waits for approval (`tool_approval_requested`) run. */
  async approveToolCall(id: string, callId: string): Promise<void> {
    await this.answerToolCall(id, callId, true, undefined);
  }

  /** Refuses a tool call that waits for approval; the model is told `reason`. */
  async denyToolCall(id: string, callId: string, reason?: string): Promise<void> {
    if (reason !== undefined && (typeof reason !== "string" || reason.length > 10_000))
      throw new InvalidArgumentError("reason", "must be text of at most 10000 characters");
    await this.answerToolCall(id, callId, false, reason);
  }

  private async answerToolCall(
    id: string,
    callId: string,
    approved: boolean,
    reason: string | undefined,
  ): Promise<void> {
    assertSessionId(id);
    if (typeof callId !== "string" || callId.length === 0 || callId.length > 512)
      throw new InvalidArgumentError("callId", "must be the callId of a tool_approval_requested event");
    const pid = this.registry.whereis(sessionKeys(id).orchestrator);
    if (!pid) {
      if (!(await this.getSession(id))) throw new SessionNotFoundError(id);
      throw new ToolCallNotPendingError(id, callId);
    }
    await askOrchestrator(this.runtime, pid, {
      op: "approve",
      callId,
      approved,
      ...(reason === undefined ? {} : { reason }),
    });
  }

  /** Adds a file to the session's active files; `content` goes to the session's context cache. */
  async addFile(
    id: string,
    path: string,
    options: { metadata?: Record<string, unknown>; content?: unknown } = {},
  ): Promise<string[]> {
    assertSessionId(id);
    const checked = checkAddFileArguments(path, options);
    const pid = await this.availableAgent(id, "contextManager");
    return askContextManager(this.runtime, pid, { op: "add_file", ...checked });
  }

  async removeFile(id: string, path: string): Promise<boolean> {
    assertSessionId(id);
    checkFilePath(path);
    const pid = await this.availableAgent(id, "contextManager");
    return askContextManager(this.runtime, pid, { op: "remove_file", path });
  }

  async getHistory(id: string): Promise<ConversationTurn[]> {
    const pid = await this.availableAgent(id, "contextManager");
    return askContextManager(this.runtime, pid, { op: "history" });
  }

  async getFiles(id: string): Promise<{ active: string[]; index: FileEntry[] }> {
    const pid = await this.availableAgent(id, "contextManager");
    return askContextManager(this.runtime, pid, { op: "files" });
  }

  // ---- lookups (the seed's helpers) ------------------------------------------------------

  findSupervisor(id: string): Pid | undefined {
    assertSessionId(id);
    return this.registry.whereis(sessionKeys(id).supervisor);
  }

  getContextManagerPid(id: string): Pid | undefined {
    assertSessionId(id);
    return this.registry.whereis(sessionKeys(id).contextManager);
  }

  /** The live pid of the session's LLMOrchestrator (`llm_orchestrator:<id>`), or undefined. */
  getOrchestratorPid(id: string): Pid | undefined {
    assertSessionId(id);
    return this.registry.whereis(sessionKeys(id).orchestrator);
  }

  /**
   * @deprecated Use `getOrchestratorPid`: the agent is the LLMOrchestrator everywhere else (its
   * class, its key `llm_orchestrator:<id>`, its events). Kept as an alias; see CHANGELOG.md.
   */
  getLlmAgentPid(id: string): Pid | undefined {
    return this.getOrchestratorPid(id);
  }

  managerPid(): Pid | undefined {
    return this.registry.whereis(SESSION_MANAGER_NAME);
  }

  // ---- events ----------------------------------------------------------------------------

  /**
   * Events of one session only. The session need not exist yet: subscribing to an id and then
   * creating, importing or restoring it delivers its `session_created`. With `since`, first
   * the session's durable events numbered above it (see `SessionEvent.seq`; `since: 0` for all
   * that are kept), then live ones, with none missed or repeated between the two; the promise
   * resolves once the replay is delivered. The subscription ends when the session terminates.
   */
  async subscribe(
    id: string,
    listener: SessionEventListener,
    options: { since?: number } = {},
  ): Promise<Subscription> {
    assertSessionId(id);
    if (typeof listener !== "function") throw new InvalidArgumentError("listener", "must be a function");
    const since = optionOf(options, "since") as number | undefined;
    if (since === undefined) {
      return this.pubsub.subscribe(sessionTopic(id), (message) => listener(message as SessionEvent));
    }
    if (!(Number.isSafeInteger(since) && since >= 0)) {
      throw new InvalidArgumentError("since", "must be a whole number >= 0 (the seq of an event)");
    }
    return subscribeWithReplay(this.pubsub, this.eventLog, this.runtime.logger, id, listener, since);
  }

  subscribeAll(listener: SessionEventListener): Subscription {
    checkListener(listener);
    return this.pubsub.subscribe(GLOBAL_SESSION_TOPIC, (message) => listener(message as SessionEvent));
  }

  // ---- hosts -----------------------------------------------------------------------------

  /** Where a running session runs: its isolation, host id, OS process and memory. */
  sessionHost(id: string): SessionHostInfo | undefined {
    assertSessionId(id);
    const supervisor = this.findSupervisor(id);
    if (!supervisor) return undefined;
    const host = this.hosts.hostOf(supervisor);
    if (host) {
      return {
        sessionId: id,
        isolation: host.kind,
        hostId: host.id,
        osPid: host.osPid,
        threadId: host.threadId,
        memory: host.memory,
        limits: host.limits,
        startedAt: host.startedAt,
      };
    }
    return {
      sessionId: id,
      isolation: "inline",
      hostId: this.runtime.node,
      osPid: process.pid,
      threadId: undefined,
      memory: undefined,
      limits: undefined,
      startedAt: undefined,
    };
  }

  /** Every host (worker thread, child process, idle spare) with its label, limits and memory. */
  listHosts(): HostInfo[] {
    return this.hosts.list();
  }

  unsubscribe(subscription: Subscription): void {
    checkSubscription(subscription);
    subscription.unsubscribe();
  }

  /** Stops every session and the system's processes (and the runtime, if the system made it). */
  async stop(): Promise<void> {
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    if (this.ownsRuntime) {
      await this.runtime.shutdown();
    } else if (this.parent) {
      // Terminated, not killed: its supervisor would start it again.
      const parent = this.parent;
      await Supervisor.terminateChild(this.runtime, parent, SESSION_SYSTEM_CHILD_ID).catch(() => {});
      await Supervisor.deleteChild(this.runtime, parent, SESSION_SYSTEM_CHILD_ID).catch(() => {});
    } else if (this.root && this.runtime.isAlive(this.root)) {
      const exited = this.runtime.whenExited(this.root);
      this.runtime.exit(this.root, "shutdown");
      await exited;
    }
    // Sessions stopped their hosts as they stopped; this ends any a kill left behind.
    await this.hosts.stop();
    this.pubsub.close();
    this.registry.close();
    await this.eventLog.close().catch((error: unknown) => {
      // The next start then numbers events as after a crash: with a gap, never a repeat.
      this.runtime.logger.warn(
        { event: "event_log_not_closed", err: error },
        "could not close the event log",
      );
    });
    if (this.ownsStore) await this.store.close();
  }

  /** `await using system = await SessionSystem.start()`: {@link stop} when the block ends. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  // ---- helpers ---------------------------------------------------------------------------

  private manager<K extends keyof SessionManagerRequests & string>(
    request: { op: K } & SessionManagerRequests[K]["request"],
    timeoutMs?: number,
  ): Promise<SessionManagerRequests[K]["reply"]> {
    return askManager(this.managerCalls, SESSION_MANAGER_NAME, request, timeoutMs);
  }

  /** Calls to the manager; only a missing manager is waited for, never a reply that is an error. */
  private readonly managerCalls: Caller = {
    call: (target, message, timeoutMs) => this.callManager(target, message, timeoutMs, 0),
  };

  /**
   * One try of a call to the manager, and the next after a moment if it is missing. Promise
   * chains rather than an async loop: a reply reaches the caller a microtask or two sooner.
   */
  private callManager(target: Target, message: unknown, timeoutMs: number | undefined, attempt: number) {
    let reply: Promise<unknown>;
    try {
      reply = this.runtime.call(target, message, timeoutMs);
    } catch (error) {
      reply = Promise.reject(error);
    }
    return reply.catch((error: unknown): Promise<unknown> => {
      // While the manager restarts its name is briefly unregistered; wait a moment for it.
      if (!(error instanceof NoProcError) || attempt >= 50) throw error;
      return new Promise((resolve) => setTimeout(resolve, 2)).then(() =>
        this.callManager(target, message, timeoutMs, attempt + 1),
      );
    });
  }

  /** The live pid of a session's agent, waiting out a recovery; typed errors otherwise. */
  private async availableAgent(
    id: string,
    agent: "orchestrator" | "contextManager",
    timeoutMs = 5000,
  ): Promise<Pid> {
    assertSessionId(id);
    const key = sessionKeys(id)[agent];
    const pid = this.registry.whereis(key);
    if (pid) return pid;
    let info = await this.getSession(id);
    if (!info) throw new SessionNotFoundError(id);
    if (info.hibernated) {
      info = await this.wakeSession(id);
      const awake = this.registry.whereis(key);
      if (awake) return awake;
    }
    if (
      info.status !== "recovering" &&
      info.status !== "initializing" &&
      info.status !== "active" &&
      info.status !== "idle"
    ) {
      throw new SessionUnavailableError(id, info.status);
    }
    return new Promise<Pid>((resolve, reject) => {
      const timer = setTimeout(() => {
        stop();
        reject(new SessionUnavailableError(id, "still recovering"));
      }, timeoutMs);
      const stop = this.registry.on("register", (entry) => {
        if (entry.key !== key) return;
        clearTimeout(timer);
        stop();
        resolve(entry.pid);
      });
      // It may have registered between the lookup and the listener.
      const now = this.registry.whereis(key);
      if (now) {
        clearTimeout(timer);
        stop();
        resolve(now);
      }
    });
  }
}

function checkProvidersModule(source: { module: string | URL; export: string }): {
  module: string;
  export: string;
} {
  if (typeof source !== "object" || source === null || typeof source.export !== "string") {
    throw new InvalidArgumentError("hostProviders", "must be { module, export }");
  }
  const { module } = source;
  if (module instanceof URL) return { module: module.href, export: source.export };
  if (typeof module !== "string" || module.length === 0) {
    throw new InvalidArgumentError(
      "hostProviders.module",
      "must be a file path, a file URL or a package specifier",
    );
  }
  return { module: isAbsolute(module) ? pathToFileURL(module).href : module, export: source.export };
}
