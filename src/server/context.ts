import { setMaxListeners } from "node:events";
import type { Context } from "hono";
import type { Logger } from "../runtime/index.js";
import {
  InvalidSessionIdError,
  isSessionId,
  type SessionInfoJson,
  SessionNotFoundError,
  type SessionSystem,
  sessionInfoToJSON,
} from "../session/index.js";
import type { Auth } from "./auth.js";
import { HttpError } from "./errors.js";
import { GlobalEvents } from "./global-events.js";
import type { ServerLimits } from "./options.js";
import type { SessionOwners } from "./owners.js";
import { parseWith, queryOf } from "./request.js";
import { NoQuerySchema } from "./schemas.js";
import type { ServedSessionInfo, ServedSessions, ServedSubscription } from "./served-sessions.js";
import type { SseWriter } from "./sse.js";

/** What hono keeps per request: the owner the auth middleware found. */
export type ServerEnv = { Variables: { owner: string } };
export type ServerRequest = Context<ServerEnv>;

/** A session as the API answers with it: its info, its owner when it has one, and in a cluster its node. */
export type SessionJson = SessionInfoJson & { owner?: string; node?: string };

/**
 * What every route shares: the sessions served, who may see what, the limits, and the streams open, so
 * that closing the server ends them all.
 */
export class ServerContext {
  /** Aborts when the server closes: streams end and turns in flight are cancelled. */
  private readonly closingController = (() => {
    const controller = new AbortController();
    // Every turn in flight listens to it: more than Node's default of 10 is normal, not a leak
    // (each listener goes when its turn ends), and the warning would reach every server's stderr.
    setMaxListeners(0, controller.signal);
    return controller;
  })();
  private readonly streamsByOwner = new Map<string, number>();
  /** Each owner's message allowance: a bucket of a minute's messages, refilled continuously. */
  private readonly messageBuckets = new Map<string, { left: number; at: number }>();
  private readonly writers = new Set<SseWriter>();

  /** Every session's events, numbered and kept for the global streams to resume from. */
  readonly globalEvents: GlobalEvents;

  constructor(
    readonly sessions: ServedSessions,
    readonly auth: Auth,
    readonly owners: SessionOwners,
    readonly limits: ServerLimits,
    readonly logger: Logger,
  ) {
    this.globalEvents = new GlobalEvents(sessions, limits.keptGlobalEvents);
  }

  /** This process's own session system: its runtime, hosts and process tree. */
  get system(): SessionSystem {
    return this.sessions.local;
  }

  get closing(): AbortSignal {
    return this.closingController.signal;
  }

  /** SSE streams open now, all owners together. */
  get openStreams(): number {
    return this.writers.size;
  }

  /** Ends every stream and cancels every turn in flight (idempotent). */
  close(): void {
    if (this.closing.aborted) return;
    this.closingController.abort(new HttpError(503, "server_closing", "the server is closing"));
    for (const writer of [...this.writers]) writer.close();
    this.globalEvents.close();
  }

  /** Refuses any query parameter (a route that takes none). */
  noQuery(c: ServerRequest): void {
    parseWith(NoQuerySchema, queryOf(c.req.url));
  }

  /**
   * The `:id` of the route, once it is known to be the caller's session: a session of another
   * owner answers exactly as a missing one does (404 `session_not_found`), so that its
   * existence is not given away.
   */
  async ownedId(c: ServerRequest): Promise<string> {
    const id = c.req.param("id");
    if (!isSessionId(id)) throw new InvalidSessionIdError(id);
    if (!(await this.canSee(c.get("owner"), id))) throw new SessionNotFoundError(id);
    return id;
  }

  /** Whether the store holds the session and `owner` may see it (the implicit owner sees all). */
  async canSee(owner: string, id: string): Promise<boolean> {
    const recorded = await this.owners.ownerOf(id);
    if (recorded === undefined) return false;
    return this.auth.implicit || recorded === owner;
  }

  sessionJson(info: ServedSessionInfo): SessionJson {
    const owner = this.owners.cached(info.id);
    return {
      ...sessionInfoToJSON(info),
      ...(owner ? { owner } : {}),
      ...(info.node === undefined ? {} : { node: info.node }),
    };
  }

  /** Ends a subscription whose stream is over (a failure to is logged, not thrown). */
  unsubscribe(subscription: ServedSubscription): void {
    try {
      subscription.unsubscribe();
    } catch (error) {
      // Gone with its session (or its system) already.
      this.logger.debug({ event: "unsubscribe_failed", err: error }, "could not end a subscription");
    }
  }

  /**
   * Takes one of the owner's stream slots (HttpError 429 `too_many_streams` when all are in
   * use); the function returned gives it back, once however often it is called.
   */
  acquireStream(owner: string): () => void {
    const open = this.streamsByOwner.get(owner) ?? 0;
    if (open >= this.limits.maxStreamsPerOwner) {
      throw new HttpError(
        429,
        "too_many_streams",
        `at most ${this.limits.maxStreamsPerOwner} streams may be open at once; close one first`,
      );
    }
    this.streamsByOwner.set(owner, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const now = (this.streamsByOwner.get(owner) ?? 1) - 1;
      if (now <= 0) this.streamsByOwner.delete(owner);
      else this.streamsByOwner.set(owner, now);
    };
  }

  /**
   * Counts one message against the owner's `maxMessagesPerMinute` (HttpError 429 `rate_limited`,
   * with Retry-After, when none is left). The allowance refills evenly over the minute.
   */
  takeMessage(owner: string): void {
    const perMinute = this.limits.maxMessagesPerMinute;
    const now = performance.now();
    const bucket = this.messageBuckets.get(owner) ?? { left: perMinute, at: now };
    const left = Math.min(perMinute, bucket.left + ((now - bucket.at) * perMinute) / 60_000);
    if (left < 1) {
      const waitS = Math.max(1, Math.ceil(((1 - left) * 60) / perMinute));
      this.messageBuckets.set(owner, { left, at: now });
      throw new HttpError(
        429,
        "rate_limited",
        `at most ${perMinute} messages a minute; try again in ${waitS} s`,
        undefined,
        { "Retry-After": String(waitS) },
      );
    }
    this.messageBuckets.set(owner, { left: left - 1, at: now });
  }

  /** Keeps a stream to end when the server closes (until it ends by itself). */
  track(writer: SseWriter): void {
    if (this.closing.aborted) {
      writer.close();
      return;
    }
    this.writers.add(writer);
    writer.onClose(() => this.writers.delete(writer));
  }

  /**
   * A signal for one turn sent without streaming: it aborts when the client closes the
   * connection or the server closes. `done` lets go of both.
   */
  turnSignal(c: ServerRequest): { signal: AbortSignal; done: () => void } {
    const controller = new AbortController();
    const sources = [c.req.raw.signal, this.closing];
    const onAbort = () => controller.abort(new Error("the request ended before the turn"));
    for (const source of sources) {
      if (source.aborted) onAbort();
      else source.addEventListener("abort", onAbort, { once: true });
    }
    return {
      signal: controller.signal,
      done: () => {
        for (const source of sources) source.removeEventListener("abort", onAbort);
      },
    };
  }
}
