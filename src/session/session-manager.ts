import { IdTable } from "../runtime/id-table.js";
import {
  type DownMessage,
  type From,
  GenServer,
  isCleanExit,
  isDownMessage,
  NoReply,
  type Pid,
  type Ref,
  type TimerRef,
} from "../runtime/index.js";
import type { PutSessionOptions, StoredSession } from "../store/index.js";
import { type ChildSpec, DynamicSupervisor, type ReplyResult, type Request } from "../supervision/index.js";
import { sessionCallTimeouts } from "./call-timeouts.js";
import type { SessionConfig } from "./config.js";
import {
  err,
  type ManagerDeps,
  ok,
  publish,
  SESSION_MANAGER_NAME,
  SESSIONS_SUPERVISOR_NAME,
} from "./deps.js";
import {
  MaxSessionsError,
  SessionExistsError,
  SessionNotFoundError,
  SessionStartError,
  SessionUnavailableError,
} from "./errors.js";
import type { SessionEventInput } from "./events.js";
import { formatIso } from "./iso-time.js";
import type { ImportedSession } from "./session-document.js";
import { asStoredJson, SessionEntry, sessionRecord } from "./session-entry.js";
import { assertSessionId, newSessionId, sessionKeys, sessionTopic } from "./session-id.js";
import type { SessionInfo } from "./session-info.js";
import { isolationOf, sessionChildSpec, startHostedSession } from "./session-placement.js";
import type { SessionStatus } from "./status.js";
import { readStoredSession } from "./stored-session.js";

export interface SessionManagerArgs {
  deps: ManagerDeps;
  maxSessions: number;
  /** How often idle sessions are looked for, in ms. */
  idleSweepMs: number;
  /**
   * Sessions the sessions supervisor gave up on (their own restart budget is spent), filled by
   * the system as it happens and emptied by the manager once each is stored as `failed`: a
   * manager that was down when the news came still finds it here.
   */
  givenUp: Set<string>;
  /** How long a terminated session stays in the store, restorable, before it is purged (ms). */
  retainTerminatedMs: number;
}

/** A session as `exportSession` writes it and `importSession` reads it. */
export interface SessionDocument {
  format: "sessionvisor.session";
  version: 1;
  session: Record<string, unknown>;
  conversation?: unknown;
}

/** What the SessionManager answers, by request. */
export type SessionManagerRequests = {
  create: { request: { config: SessionConfig }; reply: SessionInfo };
  terminate: { request: { id: string }; reply: undefined };
  list: { request: object; reply: SessionInfo[] };
  /** Terminated sessions still kept (restorable for `retainTerminatedMs`), oldest first. */
  list_terminated: { request: object; reply: SessionInfo[] };
  /** Undefined when there is no such session. */
  get: { request: { id: string }; reply: SessionInfo | undefined };
  hibernate: { request: { id: string }; reply: undefined };
  wake: { request: { id: string }; reply: SessionInfo };
  restore: { request: { id: string }; reply: SessionInfo };
  /**
   * Starts here a session the store holds and this system now owns (cluster mode), as a
   * program restart would: its status carries over, a turn in flight is marked interrupted.
   */
  adopt: { request: { id: string }; reply: SessionInfo };
  /**
   * Stops the session's processes here and forgets it, writing nothing: another system owns it
   * now. Resolves with whether it was here.
   */
  release: { request: { id: string }; reply: boolean };
  /** A document as parseSessionDocument returns it: checked whole by the caller. */
  import: { request: { document: ImportedSession }; reply: SessionInfo };
};

/** A request to the SessionManager, as sent. */
export type SessionManagerCall = Request<SessionManagerRequests>;

export type SessionManagerCast =
  | { op: "activity"; id: string }
  /** The session's token totals, from its conversation (sent by its context manager). */
  | { op: "usage"; id: string; usage: { inputTokens: number; outputTokens: number } };

export type SessionManagerInfo =
  | DownMessage
  | { type: "session_up"; id: string; pid: Pid }
  | { type: "session_given_up"; id: string; reason: unknown }
  | { type: "idle_sweep" }
  | { type: "purge_sweep" }
  | { type: "start_again"; id: string }
  | { type: "leftover_overdue"; id: string; pid: Pid }
  | { type: "flush_creates" }
  | { type: "root_started"; id: string; pid: Pid }
  | { type: "root_failed"; id: string; error: unknown };

/** A create answered once its `active` record is durable, with the events to announce then. */
interface UnflushedCreate {
  entry: SessionEntry;
  /** `session_created`. */
  announced: SessionEventInput;
  /** Its status event, `initializing → active`. */
  event: SessionEventInput;
  from: From<ReplyResult<SessionManagerRequests>>;
}

/**
 * A create whose session's root is starting in its own host, outside the manager's turn: the
 * manager takes other requests while the host boots, and finishes the create when it is told.
 */
interface HostedCreate {
  entry: SessionEntry;
  from: From<ReplyResult<SessionManagerRequests>>;
  /** Stops the root if this manager dies before it took it (see create). */
  orphanWatch: Ref;
}

/**
 * How long processes of a session's previous tree may take to stop before the session's new
 * processes are started anyway, the old ones killed: they hold the session's names.
 */
const LEFTOVER_GRACE_MS = 10_000;
/** A restart that keeps finding old processes in its way gives up after this many tries. */
const MAX_START_TRIES = 5;

/**
 * Creates, lists and terminates sessions. It only monitors the session supervisors (they live
 * under the sessions DynamicSupervisor, never linked to it), so killing a session cannot touch
 * the manager, and killing the manager cannot touch a session. What it knows is written to the
 * store, from which a restarted manager rebuilds its table.
 */
export class SessionManager extends GenServer<
  SessionManagerCall,
  ReplyResult<SessionManagerRequests>,
  SessionManagerCast,
  SessionManagerInfo,
  SessionManagerArgs
> {
  private deps!: ManagerDeps;
  /** Its calls to the sessions' supervisor: the runtime's default when no session can be hosted. */
  private timeouts: ReturnType<typeof sessionCallTimeouts> | undefined;
  private maxSessions = 0;
  private idleSweepMs = 1000;
  private readonly entries = new Map<string, SessionEntry>();
  /** Session ids by the id of the monitor on their supervisor (ids this node hands out in order). */
  private readonly byMonitor = new IdTable<string>();
  private sweepArmed = false;
  private retainTerminatedMs = 0;
  /** Terminated sessions kept in the store, by id, with when they terminated (epoch ms). */
  private readonly retained = new Map<string, number>();
  private purgeArmed = false;
  private givenUpIds: Set<string> = new Set();
  /**
   * Sessions whose processes the tree lost, to be started again by this manager (one
   * `start_again` message each, so that calls are answered in between), with the tries so far.
   */
  private readonly toStart = new Map<string, number>();
  /**
   * Monitors of processes left from a session's previous tree, by ref id: whose start waits on
   * them, and the timer that kills them if they take too long to stop.
   */
  private readonly leftovers = new Map<number, { id: string; overdue: TimerRef }>();
  /** Set by `restoreAtBoot`: this manager is the system's first. */
  private atBoot = false;
  /**
   * Creates whose sessions are up, waiting for one durable write to answer them all (group
   * commit): the ones taken one after another from the mailbox before anything else.
   */
  private unflushed: UnflushedCreate[] = [];
  /** Creates of hosted sessions whose hosts are booting, by session id. */
  private readonly hostedCreates = new Map<string, HostedCreate>();

  /**
   * Makes this manager, before it starts, the first of its system: stored sessions without
   * processes then mean "the program restarted", and are started again, their status carried
   * over, before its `init` returns (so before the system is handed out). A manager started
   * without it finds them lost with a tree restart and brings them back as `recovering`.
   */
  restoreAtBoot(): void {
    this.atBoot = true;
  }

  override async init(args: SessionManagerArgs): Promise<void> {
    this.deps = args.deps;
    if (args.deps.hosting) this.timeouts = sessionCallTimeouts(args.deps.hosting.hosts.limits);
    this.maxSessions = args.maxSessions;
    this.idleSweepMs = args.idleSweepMs;
    this.retainTerminatedMs = args.retainTerminatedMs;
    this.givenUpIds = args.givenUp;
    await this.rebuild();
    // Only the sessions found at this start were the program's previous run.
    this.atBoot = false;
    this.deps.registry.register(SESSION_MANAGER_NAME, this.self);
    await this.catchUp();
    this.armSweep();
    this.armPurge();
  }

  override handleCall(
    message: SessionManagerCall,
    from: From<ReplyResult<SessionManagerRequests>>,
  ): Promise<ReplyResult<SessionManagerRequests> | NoReply> {
    // A create, most of what a busy system asks, without an async frame of its own around it.
    if (message?.op === "create") return this.create(message.config, from).then(answerLater, err);
    // Anything else sees the creates before it stored and announced, as if each had been answered.
    if (this.unflushed.length > 0) return this.flushCreates().then(() => this.handleRequest(message));
    return this.handleRequest(message);
  }

  private async handleRequest(message: SessionManagerCall): Promise<ReplyResult<SessionManagerRequests>> {
    try {
      switch (message?.op) {
        case "terminate":
          await this.terminateSession(message.id);
          return ok(undefined);
        case "list":
          return ok([...this.entries.values()].map((e) => e.info));
        case "list_terminated":
          return ok(await this.terminatedInfos());
        case "get":
          assertSessionId(message.id);
          return ok(this.entries.get(message.id)?.info);
        case "hibernate":
          await this.hibernate(this.entryOrThrow(message.id));
          return ok(undefined);
        case "wake": {
          const entry = this.entryOrThrow(message.id);
          await this.wake(entry);
          return ok(entry.info);
        }
        case "restore":
          return ok(await this.restoreTerminated(message.id));
        case "import":
          return ok(await this.importDocument(message.document));
        case "adopt":
          return ok(await this.adoptStored(message.id));
        case "release":
          return ok(await this.release(message.id));
        default:
          throw new TypeError(`unknown SessionManager request ${JSON.stringify(message)}`);
      }
    } catch (error) {
      return err(error);
    }
  }

  /** Synchronous unless a status changes: two of these arrive for every turn. */
  override handleCast(message: SessionManagerCast): void | Promise<void> {
    if (this.unflushed.length > 0) return this.flushCreates().then(() => this.handleCast(message));
    if (message?.op === "usage") {
      const entry = this.entries.get(message.id);
      const { inputTokens, outputTokens } = message.usage ?? {};
      // Kept in memory; written with the session's record at its next change.
      if (entry && Number.isSafeInteger(inputTokens) && Number.isSafeInteger(outputTokens))
        entry.info = { ...entry.info, usage: { inputTokens, outputTokens } as SessionInfo["usage"] };
      return;
    }
    if (message?.op !== "activity") return;
    const entry = this.entries.get(message.id);
    if (!entry) return;
    entry.lastActivity = this.runtime.clock.now();
    if (entry.info.status === "idle") return this.transition(entry, "active").then(() => this.armSweep());
    this.armSweep();
  }

  /**
   * Not async: a `session_up` for a session the manager already watches (one for every create)
   * is handled at once, without a promise and the microtasks of one.
   */
  override handleInfo(message: SessionManagerInfo): void | Promise<void> {
    // A `session_up` of a supervisor already watched (one per create) changes nothing; anything
    // else waits for the creates.
    if (
      this.unflushed.length > 0 &&
      !(message?.type === "session_up" && this.watches(message.id, message.pid))
    )
      return this.flushCreates().then(() => this.handleInfo(message));
    if (isDownMessage(message)) {
      const waiting = this.leftovers.get(message.ref.id);
      if (waiting === undefined) return this.supervisorDown(message);
      this.leftovers.delete(message.ref.id);
      this.cancelTimer(waiting.overdue);
      return this.startAgain(waiting.id);
    }
    switch (message.type) {
      case "session_up":
        return this.supervisorUp(message.id, message.pid);
      case "session_given_up":
        return this.givenUp(message.id, message.reason);
      case "idle_sweep":
        return this.sweepIdle();
      case "purge_sweep":
        return this.purge();
      case "start_again":
        return this.startAgain(message.id);
      case "leftover_overdue":
        return this.killLeftover(message.id, message.pid);
      case "flush_creates":
        return;
      case "root_started":
        return this.hostedRootStarted(message.id, message.pid);
      case "root_failed":
        return this.hostedRootFailed(message.id, message.error);
    }
  }

  // ---- lifecycle -------------------------------------------------------------------------

  /**
   * `config` is parsed already (the system's `createSession` did it): it is not checked again.
   * Answered through `from` once the session's `active` record is durable (see `flushCreates`).
   * A session in a thread or process host has its host booted outside the manager's turn
   * (see hostedRootStarted): creates, lists and terminations do not wait behind a host's start.
   */
  private async create(
    config: SessionConfig,
    from: From<ReplyResult<SessionManagerRequests>>,
  ): Promise<void> {
    if (this.entries.size + this.hostedCreates.size >= this.maxSessions)
      throw new MaxSessionsError(this.maxSessions);
    let id = newSessionId();
    // A v7 uuid (62 random bits) does not collide in practice; the table check makes it certain.
    while (this.entries.has(id) || this.hostedCreates.has(id)) id = newSessionId();
    const at = this.deps.now();
    const entry = SessionEntry.created(id, config, at, this.runtime.clock.now());
    // Awaited only when there is a claim to make: an `await undefined` still costs a microtask.
    if (this.deps.ownership) await this.deps.ownership.claim(id);
    // An inline session starts within this turn: nothing of it is stored, nor announced, until
    // its `active` record is written durably once its processes are up (`flushCreates`), so a
    // crash before that leaves no trace of a session whose caller never learnt its id (and a
    // successor of this manager stops its tree: see `rebuild`). A hosted one starts over many
    // turns while this manager answers others: its record is stored first, `initializing` and
    // not yet durable, so that a successor of this manager starts it once should this one die.
    if (isolationOf(config, this.deps) !== "inline") {
      await this.persist(entry, LAZILY);
      if (this.startHosted(entry, from)) return;
    }
    const pid = await this.startNewTree(id, sessionChildSpec(id, config, this.deps, { fresh: true }));
    await this.created(entry, pid, from);
  }

  /**
   * Starts a hosted session's root, linked to the sessions supervisor, and returns at once; the
   * outcome comes back as `root_started` or `root_failed`. False for an inline session.
   */
  private startHosted(entry: SessionEntry, from: From<ReplyResult<SessionManagerRequests>>): boolean {
    if (!this.deps.hosting) return false;
    const sessions = this.deps.registry.whereis(SESSIONS_SUPERVISOR_NAME);
    let root: Promise<Pid> | undefined;
    try {
      root = sessions && startHostedSession(entry.id, entry.config, this.deps, sessions);
    } catch (error) {
      // Refused before a host was asked for (arguments that cannot cross): a start that failed.
      root = Promise.reject(error);
    }
    if (!root) return false;
    const { id } = entry;
    const started = root;
    // Until the sessions supervisor takes the root, nothing else stops it: should this manager
    // die first, its successor knows nothing of the create, and the root would run unsupervised.
    const orphanWatch = this.runtime.watch(this.self, () => {
      started.then((pid) => this.runtime.exit(pid, "kill")).catch(() => {});
    });
    this.hostedCreates.set(id, { entry, from, orphanWatch });
    started.then(
      (pid) => this.send(this.self, { type: "root_started", id, pid }),
      (error: unknown) => this.send(this.self, { type: "root_failed", id, error }),
    );
    return true;
  }

  /** The root of a hosted create is up: the sessions supervisor takes it, and the create goes on. */
  private async hostedRootStarted(id: string, root: Pid): Promise<void> {
    const create = this.takeHostedCreate(id);
    if (!create) return;
    let pid: Pid;
    try {
      pid = await this.startNewTree(
        id,
        sessionChildSpec(id, create.entry.config, this.deps, { fresh: true, started: root }),
      );
    } catch (error) {
      this.runtime.exit(root, "kill");
      create.from.reply(err(error));
      return;
    }
    await this.created(create.entry, pid, create.from);
  }

  private async hostedRootFailed(id: string, error: unknown): Promise<void> {
    const create = this.takeHostedCreate(id);
    if (!create) return;
    await this.forgetFailedCreate(id);
    create.from.reply(err(new SessionStartError(startFailureOf(error))));
  }

  /**
   * Ends a hosted create's wait for its root. From here a manager that dies leaves the root to
   * the sessions supervisor, which takes it (its successor finds it there) or never had it.
   */
  private takeHostedCreate(id: string): HostedCreate | undefined {
    const create = this.hostedCreates.get(id);
    if (!create) return undefined;
    this.hostedCreates.delete(id);
    this.runtime.demonitor(create.orphanWatch);
    return create;
  }

  /** A new session's tree under the sessions supervisor; a failed start leaves nothing of it behind. */
  private async startNewTree(id: string, spec: ChildSpec): Promise<Pid> {
    try {
      const pid = await DynamicSupervisor.startChild(
        this.runtime,
        SESSIONS_SUPERVISOR_NAME,
        spec,
        this.timeouts?.start.inner,
      );
      if (!pid) throw new Error("the session supervisor ignored its start");
      return pid;
    } catch (error) {
      await this.forgetFailedCreate(id);
      throw new SessionStartError(startFailureOf(error));
    }
  }

  /** Nothing of a session that failed to start may stay behind. */
  private async forgetFailedCreate(id: string): Promise<void> {
    await this.deps.store.deleteSession(id);
    this.deps.contextStore.clearSession(id);
  }

  /** A new session's processes are up: it is listed, watched, announced, and answered once durable. */
  private async created(
    entry: SessionEntry,
    pid: Pid,
    from: From<ReplyResult<SessionManagerRequests>>,
  ): Promise<void> {
    const { id } = entry;
    this.entries.set(id, entry);
    this.watch(entry, pid);
    // As it was created (`initializing`); announced with the status event once durable.
    const announced: SessionEventInput = {
      type: "session_created",
      sessionId: id,
      at: formatIso(entry.info.createdAt),
      info: entry.info,
    };
    const event = entry.transition("active", this.deps.now());
    this.armSweep();
    // Stored and announced with the creates queued behind it, before the manager takes anything
    // else; a long run of creates is flushed every MAX_GROUP_COMMIT, so that its first caller
    // does not wait for the whole queue.
    const waiting = this.unflushed.push({ entry, announced, event, from });
    if (waiting === 1) this.send(this.self, FLUSH_CREATES);
    else if (waiting >= MAX_GROUP_COMMIT) await this.flushCreates();
  }

  /**
   * Group commit: the `active` records of the creates taken one after another go to the store
   * in order, each but the last without an fsync; the last one's durable commit carries them all
   * to the disk (a store applies writes in the order they are made, and each is awaited). Only
   * then is each create announced and answered, so no caller learns of a session a power cut
   * could take back, and one flush serves a burst of creates instead of one each.
   */
  private async flushCreates(): Promise<void> {
    const batch = this.unflushed;
    if (batch.length === 0) return;
    this.unflushed = [];
    try {
      const last = batch.length - 1;
      for (let i = 0; i < last; i++) await this.persist((batch[i] as UnflushedCreate).entry, LAZILY);
      await this.persist((batch[last] as UnflushedCreate).entry);
    } catch (error) {
      // As a session that failed to start: the callers learn of no session, and none stays behind.
      for (const create of batch) {
        await this.abandon(create.entry);
        create.from.reply(err(error));
      }
      return;
    }
    // Announced only now, so that no event of a session reaches the event log before its record.
    for (const { entry, announced, event, from } of batch) {
      publish(this.deps, announced);
      publish(this.deps, event);
      from.reply(ok(entry.info));
    }
  }

  /**
   * Stops and forgets a session whose create failed after its processes started. It was never
   * announced, so nothing is announced of its end either (an event would outlive its record).
   */
  private async abandon(entry: SessionEntry): Promise<void> {
    const { id } = entry;
    const pid = entry.supervisor;
    this.unwatch(entry);
    this.entries.delete(id);
    if (pid && this.runtime.isAlive(pid)) await this.stopTree(pid).catch(() => {});
    this.deps.contextStore.clearSession(id);
    await this.deps.store.deleteSession(id).catch(() => {});
    this.deps.pubsub.clearTopic(sessionTopic(id));
  }

  private async terminateSession(id: string): Promise<void> {
    assertSessionId(id);
    const entry = this.entries.get(id);
    if (!entry) throw new SessionNotFoundError(id);
    await this.transition(entry, "terminating");
    this.toStart.delete(id);
    const pid = entry.supervisor;
    this.unwatch(entry);
    if (pid && this.runtime.isAlive(pid)) {
      await this.stopTree(pid).catch(() => {
        // It died between the check and the request: nothing left to stop.
      });
    }
    this.deps.contextStore.clearSession(id);
    await this.transition(entry, "terminated");
    publish(this.deps, { type: "session_terminated", sessionId: id, at: this.deps.now().toISOString() });
    this.entries.delete(id);
    // Subscriptions end with the session; the store keeps its record for a later restore.
    this.deps.pubsub.clearTopic(sessionTopic(id));
    this.retained.set(id, this.deps.now().getTime());
    this.armPurge();
  }

  // ---- retention, restore, import --------------------------------------------------------

  /** Brings a terminated session back under the same id, with its conversation. */
  /** What the store keeps of each retained terminated session; one purged meanwhile is left out. */
  private async terminatedInfos(): Promise<SessionInfo[]> {
    const infos: SessionInfo[] = [];
    for (const id of this.retained.keys()) {
      const stored = await this.deps.store.getSession(id);
      if (stored?.record.status === "terminated") infos.push(readStoredSession(stored).info);
    }
    return infos.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  }

  private async restoreTerminated(id: string): Promise<SessionInfo> {
    assertSessionId(id);
    if (this.entries.has(id)) throw new SessionExistsError(id);
    const stored = await this.deps.store.getSession(id);
    if (stored?.record.status !== "terminated") throw new SessionNotFoundError(id);
    const { info: old, config } = readStoredSession(stored);
    const info = await this.revive(old, config);
    this.retained.delete(id);
    return info;
  }

  /**
   * Takes in a session exported elsewhere; refused if its id exists here in any form. The
   * document is checked whole before anything is written, and an import that fails after that
   * takes back what it wrote: a refused import leaves no trace in the store.
   */
  private async importDocument(document: ImportedSession): Promise<SessionInfo> {
    const { info, config, conversation } = document;
    if (this.entries.has(info.id) || (await this.deps.store.getSession(info.id)))
      throw new SessionExistsError(info.id);
    if (this.entries.size >= this.maxSessions) throw new MaxSessionsError(this.maxSessions);
    await this.deps.ownership?.claim(info.id);
    try {
      // Copied as JSON data and checked by the conversation's schema when the document was parsed.
      if (conversation) await this.deps.store.putConversation(info.id, asStoredJson(conversation));
      return await this.revive(info, config);
    } catch (error) {
      if (!this.entries.has(info.id)) await this.deps.store.deleteSession(info.id).catch(() => {});
      throw error;
    }
  }

  /** Starts a stored or imported session as a new lifecycle under its old id. */
  private async revive(old: SessionInfo, config: SessionConfig): Promise<SessionInfo> {
    if (this.entries.size >= this.maxSessions) throw new MaxSessionsError(this.maxSessions);
    // A new lifecycle: an old give-up (stored as failed before the news was cleared) is over.
    this.givenUpIds.delete(old.id);
    const at = this.deps.now();
    const entry = SessionEntry.revived(old, config, at, this.runtime.clock.now());
    await this.deps.ownership?.claim(old.id);
    // Made durable by the `active` record, as in `create`.
    await this.persist(entry, { durable: false });
    try {
      await this.startProcesses(entry);
    } catch (error) {
      // Back to what was stored before: a failed restore changes nothing.
      await this.deps.store.putSession(old.id, sessionRecord(old, config));
      throw new SessionStartError(startFailureOf(error));
    }
    this.entries.set(old.id, entry);
    publish(this.deps, {
      type: "session_created",
      sessionId: old.id,
      at: at.toISOString(),
      info: entry.info,
    });
    await this.transition(entry, "active");
    this.armSweep();
    return entry.info;
  }

  private armPurge(): void {
    if (this.purgeArmed || this.retained.size === 0) return;
    this.purgeArmed = true;
    this.sendAfter(this.idleSweepMs, { type: "purge_sweep" });
  }

  /** Deletes terminated sessions kept longer than the retention time. */
  private async purge(): Promise<void> {
    this.purgeArmed = false;
    const now = this.deps.now().getTime();
    for (const [id, terminatedAt] of [...this.retained]) {
      if (now - terminatedAt < this.retainTerminatedMs) continue;
      try {
        await this.deps.store.deleteSession(id);
      } catch (error) {
        // A shared store may refuse it (another node owns the session again): not ours to purge.
        this.runtime.logger.warn(
          { event: "session_purge_failed", sessionId: id, err: error },
          `could not purge terminated session ${id}`,
        );
      }
      this.deps.eventLog?.forget(id);
      this.retained.delete(id);
    }
    this.armPurge();
  }

  // ---- supervision of sessions -----------------------------------------------------------

  private async supervisorDown(down: DownMessage): Promise<void> {
    const id = this.byMonitor.get(down.ref.id);
    if (id === undefined) return;
    this.byMonitor.delete(down.ref.id);
    const entry = this.entries.get(id);
    if (!entry?.supervisor?.equals(down.pid)) return;
    entry.supervisor = undefined;
    entry.monitor = undefined;
    if (!isCleanExit(down.reason)) this.announceCrash(entry, down.reason);
    if (entry.live) await this.transition(entry, "recovering");
    // The replacement may have registered before this DOWN was handled.
    const replacement = this.deps.registry.whereis(sessionKeys(id).supervisor);
    if (replacement) await this.supervisorUp(id, replacement);
  }

  /** Synchronous unless a status changes or a stray supervisor is stopped. */
  private supervisorUp(id: string, pid: Pid): void | Promise<void> {
    const entry = this.entries.get(id);
    // A hosted create's root registers before the manager hears it started (hostedRootStarted).
    if (!entry && this.hostedCreates.has(id)) return;
    if (!entry) {
      // A restart that raced with termination: the session is gone, so is its supervisor.
      if (this.runtime.isAlive(pid)) return this.stopTree(pid).catch(() => {});
      return;
    }
    if (entry.supervisor?.equals(pid)) return;
    // Only this manager starts a session it is to start again: a supervisor registering for it
    // meanwhile is left from its previous tree, and so is one no longer registered by the time
    // this news is read.
    if (this.toStart.has(id)) return;
    if (!this.deps.registry.whereis(sessionKeys(id).supervisor)?.equals(pid)) return;
    this.watch(entry, pid);
    if (entry.info.status === "recovering") {
      entry.restarted();
      return this.transition(entry, "active");
    }
  }

  private async givenUp(id: string, reason: unknown): Promise<void> {
    const entry = this.entries.get(id);
    if (entry) await this.fail(entry, reason);
    this.givenUpIds.delete(id);
  }

  /** Its own restart budget is spent: the session stays listed, without processes, as `failed`. */
  private async fail(entry: SessionEntry, reason: unknown): Promise<void> {
    this.unwatch(entry);
    this.toStart.delete(entry.id);
    const { status } = entry.info;
    if (entry.live || status === "recovering" || status === "initializing")
      await this.crashToFailed(entry, reason);
  }

  /** Its processes are gone for good (or never came up): announced as crashed, stored as failed. */
  private async crashToFailed(entry: SessionEntry, reason: unknown): Promise<void> {
    if (entry.live) await this.transition(entry, "recovering");
    this.announceCrash(entry, reason);
    await this.transition(entry, "failed");
  }

  private announceCrash(entry: SessionEntry, reason: unknown): void {
    publish(this.deps, entry.crashed(reason, this.deps.now()));
  }

  private entryOrThrow(id: string): SessionEntry {
    assertSessionId(id);
    const entry = this.entries.get(id);
    if (!entry) throw new SessionNotFoundError(id);
    return entry;
  }

  /** Asks the sessions' supervisor to stop one session's tree (and its host, if it has one). */
  private stopTree(pid: Pid): Promise<void> {
    return DynamicSupervisor.terminateChild(
      this.runtime,
      SESSIONS_SUPERVISOR_NAME,
      pid,
      this.timeouts?.stop.inner,
    );
  }

  private async startProcesses(entry: SessionEntry): Promise<void> {
    const pid = await DynamicSupervisor.startChild(
      this.runtime,
      SESSIONS_SUPERVISOR_NAME,
      sessionChildSpec(entry.id, entry.config, this.deps),
      this.timeouts?.start.inner,
    );
    if (!pid) throw new Error("the session supervisor ignored its start");
    this.watch(entry, pid);
  }

  /** Stops an idle session's processes; its record, and its place in the list, stay. */
  private async hibernate(entry: SessionEntry): Promise<void> {
    if (entry.info.hibernated) return;
    if (entry.info.status === "active") await this.transition(entry, "idle");
    if (entry.info.status !== "idle") throw new SessionUnavailableError(entry.info.id, entry.info.status);
    const pid = entry.supervisor;
    this.unwatch(entry);
    if (pid && this.runtime.isAlive(pid)) {
      await this.stopTree(pid).catch(() => {});
    }
    this.deps.contextStore.clearSession(entry.info.id);
    entry.info = { ...entry.info, hibernated: true, updatedAt: this.deps.now() };
    await this.persist(entry);
    publish(this.deps, {
      type: "session_hibernated",
      sessionId: entry.info.id,
      at: this.deps.now().toISOString(),
    });
  }

  /** Starts a hibernated session's processes again; they reload its conversation from the store. */
  private async wake(entry: SessionEntry): Promise<void> {
    if (!entry.info.hibernated) return;
    try {
      await this.startProcesses(entry);
    } catch (error) {
      // Still asleep, as stored: the caller learns why in the session's terms.
      throw new SessionStartError(startFailureOf(error));
    }
    entry.lastActivity = this.runtime.clock.now();
    entry.info = { ...entry.info, hibernated: false, updatedAt: this.deps.now() };
    publish(this.deps, {
      type: "session_woken",
      sessionId: entry.info.id,
      at: this.deps.now().toISOString(),
    });
    if (entry.info.status === "idle") await this.transition(entry, "active");
    else await this.persist(entry);
    this.armSweep();
  }

  /** Starts a stored session's processes again after a program restart; its status carries over. */
  private async restart(entry: SessionEntry): Promise<void> {
    try {
      await this.startProcesses(entry);
      if (entry.info.status === "initializing" || entry.info.status === "recovering") {
        await this.transition(entry, "active");
      }
    } catch (error) {
      await this.crashToFailed(entry, error);
    }
  }

  private watches(id: string, pid: Pid): boolean {
    return this.entries.get(id)?.supervisor?.equals(pid) === true;
  }

  private watch(entry: SessionEntry, pid: Pid): void {
    this.unwatch(entry);
    entry.supervisor = pid;
    entry.monitor = this.monitor(pid);
    this.byMonitor.set(entry.monitor.id, entry.info.id);
  }

  private unwatch(entry: SessionEntry): void {
    if (entry.monitor) {
      this.demonitor(entry.monitor);
      this.byMonitor.delete(entry.monitor.id);
    }
    entry.monitor = undefined;
    entry.supervisor = undefined;
  }

  // ---- idle timeout ----------------------------------------------------------------------

  private armSweep(): void {
    if (this.sweepArmed) return;
    const needed = [...this.entries.values()].some((e) => this.mayTimeOut(e));
    if (!needed) return;
    this.sweepArmed = true;
    this.sendAfter(this.idleSweepMs, { type: "idle_sweep" });
  }

  private mayTimeOut(entry: SessionEntry): boolean {
    const { status, hibernated } = entry.info;
    const limits = entry.config.limits;
    return (
      (status === "active" && limits.idleTimeoutMs > 0) ||
      (!hibernated && entry.live && limits.hibernateAfterMs > 0)
    );
  }

  private async sweepIdle(): Promise<void> {
    this.sweepArmed = false;
    const now = this.runtime.clock.now();
    for (const entry of [...this.entries.values()]) {
      const { idleTimeoutMs, hibernateAfterMs } = entry.config.limits;
      const quiet = now - entry.lastActivity;
      if (entry.info.status === "active" && idleTimeoutMs > 0 && quiet >= idleTimeoutMs) {
        await this.transition(entry, "idle");
      }
      if (!entry.info.hibernated && hibernateAfterMs > 0 && quiet >= hibernateAfterMs) {
        if (entry.live) await this.hibernate(entry);
      }
    }
    this.armSweep();
  }

  // ---- state -----------------------------------------------------------------------------

  /** The only place a status changes: through the status machine, then stored, then announced. */
  private async transition(entry: SessionEntry, to: SessionStatus): Promise<void> {
    const event = entry.transition(to, this.deps.now());
    await this.persist(entry);
    publish(this.deps, event);
  }

  private persist(entry: SessionEntry, options?: PutSessionOptions): Promise<void> {
    return this.deps.store.putSession(entry.id, entry.record(), options);
  }

  /**
   * At every start of the manager — program start, its own restart, or a restart of the tree
   * above it. The store says which sessions exist; the sessions supervisor which of them it
   * holds. Held sessions are watched again. The others lost their processes with the tree (or,
   * at boot, never had any) and are started again — unless asleep, failed, or given up on while
   * no manager was listening. At boot their status carries over and they are started before the
   * system is handed out; otherwise a live session goes `recovering` and is started once this
   * manager answers calls, after any processes of its previous tree have stopped.
   */
  private async rebuild(): Promise<void> {
    const held = new Map<string, Pid | undefined>();
    for (const child of await DynamicSupervisor.whichChildren(this.runtime, SESSIONS_SUPERVISOR_NAME))
      held.set(child.id, child.pid);
    for (const stored of await this.storedSessions()) {
      const { info, config } = readStoredSession(stored);
      if (info.status === "terminated") {
        this.retained.set(info.id, info.statusChangedAt.getTime());
        continue;
      }
      const entry = SessionEntry.stored(info, config, this.runtime.clock.now());
      this.entries.set(info.id, entry);
      if (held.has(info.id)) await this.adopt(entry, held.get(info.id));
      else await this.recoverLost(entry);
    }
    // A tree the store has no record of: an inline create whose manager died before writing it
    // (see `create`). Its caller was told the create failed; the session must not run unseen.
    for (const [id, pid] of held) {
      if (this.entries.has(id) || this.retained.has(id) || !pid) continue;
      if (await this.deps.store.getSession(id)) continue;
      await this.stopTree(pid).catch(() => {
        // Already gone.
      });
    }
  }

  /** The stored sessions this system runs: all of them, or (sharing the store) those it owns. */
  private async storedSessions(): Promise<StoredSession[]> {
    const { ownership, store } = this.deps;
    if (!ownership) return store.listSessions();
    const owned: StoredSession[] = [];
    for (const id of ownership.owned()) {
      const stored = await store.getSession(id);
      if (stored) owned.push(stored);
    }
    return owned;
  }

  /** See the `adopt` request. Already here: its info. */
  private async adoptStored(id: string): Promise<SessionInfo> {
    assertSessionId(id);
    const present = this.entries.get(id);
    if (present) return present.info;
    const stored = await this.deps.store.getSession(id);
    if (!stored) throw new SessionNotFoundError(id);
    const { info, config } = readStoredSession(stored);
    if (info.status === "terminated") throw new SessionNotFoundError(id);
    if (this.entries.size >= this.maxSessions) throw new MaxSessionsError(this.maxSessions);
    await this.deps.eventLog.resume(id);
    const entry = SessionEntry.stored(info, config, this.runtime.clock.now());
    this.entries.set(id, entry);
    if (info.status === "terminating") {
      await this.finishTermination(entry);
      throw new SessionNotFoundError(id);
    }
    // Asleep on purpose, or given up on: listed here, without processes, as stored.
    if (!info.hibernated && info.status !== "failed") await this.restart(entry);
    this.armSweep();
    return entry.info;
  }

  /** See the `release` request: nothing is written, and no event published. */
  private async release(id: string): Promise<boolean> {
    assertSessionId(id);
    const entry = this.entries.get(id);
    this.toStart.delete(id);
    this.retained.delete(id);
    if (!entry) return false;
    this.entries.delete(id);
    const pid = entry.supervisor;
    this.unwatch(entry);
    this.deps.eventLog.forget(id);
    this.deps.contextStore.clearSession(id);
    if (pid && this.runtime.isAlive(pid)) {
      await this.stopTree(pid).catch(() => {});
    }
    return true;
  }

  /**
   * News the sessions supervisor sent while this manager was starting, so not yet registered
   * to hear it, is lost: a session given up on, or a restart that finished. Looked up instead.
   */
  private async catchUp(): Promise<void> {
    for (const entry of [...this.entries.values()]) {
      const id = entry.info.id;
      if (this.givenUpIds.has(id)) {
        await this.givenUp(id, "restart budget spent");
        continue;
      }
      if (entry.supervisor || this.toStart.has(id) || entry.info.status !== "recovering") continue;
      const pid = this.deps.registry.whereis(sessionKeys(id).supervisor);
      if (pid) await this.supervisorUp(id, pid);
    }
  }

  /** A session the sessions supervisor holds: running (watched again) or between restarts. */
  private async adopt(entry: SessionEntry, pid: Pid | undefined): Promise<void> {
    const { status } = entry.info;
    if (status === "terminating") {
      // The manager died while terminating it: finish the job.
      if (pid) await this.stopTree(pid).catch(() => {});
      return this.finishTermination(entry);
    }
    // Woken, but the manager died before it could say so.
    if (entry.info.hibernated) entry.info = { ...entry.info, hibernated: false };
    if (!pid) {
      // Between restarts: the sessions supervisor announces it when it is up, or gives it up.
      if (entry.live) await this.transition(entry, "recovering");
      return;
    }
    this.watch(entry, pid);
    if (status === "recovering") entry.restarted();
    if (status === "recovering" || status === "initializing") await this.transition(entry, "active");
    else await this.persist(entry);
  }

  /** A session that the sessions supervisor does not hold. */
  private async recoverLost(entry: SessionEntry): Promise<void> {
    const { id, status, hibernated } = entry.info;
    if (status === "terminating") return this.finishTermination(entry);
    // Asleep on purpose, or given up on: no processes are expected.
    if (hibernated || status === "failed") return;
    if (this.givenUpIds.has(id)) {
      // Its own budget ran out while no manager was listening.
      await this.fail(entry, "restart budget spent");
      this.givenUpIds.delete(id);
      return;
    }
    if (this.atBoot) return this.restart(entry);
    if (entry.live) await this.transition(entry, "recovering");
    this.toStart.set(id, 0);
    this.send(this.self, { type: "start_again", id } satisfies SessionManagerInfo);
  }

  private async finishTermination(entry: SessionEntry): Promise<void> {
    const id = entry.info.id;
    this.deps.contextStore.clearSession(id);
    await this.transition(entry, "terminated");
    this.entries.delete(id);
    this.deps.pubsub.clearTopic(sessionTopic(id));
    this.retained.set(id, this.deps.now().getTime());
  }

  /**
   * Starts a session whose processes a tree restart took, once nothing of its previous tree
   * holds its names (else its new processes could not register: they would fail to start).
   */
  private async startAgain(id: string): Promise<void> {
    const entry = this.entries.get(id);
    const tries = this.toStart.get(id);
    if (!entry || tries === undefined) return;
    if (this.waitForLeftover(id)) return;
    this.toStart.delete(id);
    try {
      await this.startProcesses(entry);
    } catch (error) {
      // A process of the old tree registered one of its names between the check and the start.
      if (tries + 1 < MAX_START_TRIES && this.leftoverOf(id)) {
        this.toStart.set(id, tries + 1);
        this.waitForLeftover(id);
        return;
      }
      return this.fail(entry, error);
    }
    if (entry.info.status === "recovering") {
      entry.restarted();
      await this.transition(entry, "active");
    } else if (entry.info.status === "initializing") {
      await this.transition(entry, "active");
    }
    this.armSweep();
  }

  /** A live process, left from the session's previous tree, holding one of its names. */
  private leftoverOf(id: string): Pid | undefined {
    const keys = sessionKeys(id);
    for (const key of [keys.supervisor, keys.contextManager, keys.orchestrator]) {
      const pid = this.deps.registry.whereis(key);
      if (pid && this.runtime.isAlive(pid)) return pid;
    }
    return undefined;
  }

  /** True if the session's start must wait for a leftover process to stop (it is monitored). */
  private waitForLeftover(id: string): boolean {
    const pid = this.leftoverOf(id);
    if (!pid) return false;
    const overdue = this.sendAfter(LEFTOVER_GRACE_MS, { type: "leftover_overdue", id, pid });
    this.leftovers.set(this.monitor(pid).id, { id, overdue });
    return true;
  }

  /** A leftover that outstays its grace is killed: the session it blocks matters more. */
  private killLeftover(id: string, pid: Pid): void {
    if (!this.toStart.has(id) || !this.runtime.isAlive(pid)) return;
    this.runtime.logger.warn(
      { event: "session_leftover_killed", sessionId: id, pid: pid.toString() },
      `a process of session ${id}'s previous tree did not stop within ${LEFTOVER_GRACE_MS} ms: killed`,
    );
    this.exit(pid, "kill");
  }
}

const FLUSH_CREATES: SessionManagerInfo = { type: "flush_creates" };
/** At most this many creates wait for one durable write. */
const MAX_GROUP_COMMIT = 64;
const LAZILY: PutSessionOptions = { durable: false };

function answerLater(): NoReply {
  return NoReply;
}

/** Why a session's supervisor failed to start: the reason inside the supervisor's start error. */
function startFailureOf(error: unknown): unknown {
  return error instanceof Error && "reason" in error ? (error as { reason: unknown }).reason : error;
}
