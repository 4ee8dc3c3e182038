import { stream, whenUnauthorized } from "./api.js";
import { Store } from "./store.js";
import type {
  ObservedProcess,
  ObservedSession,
  SessionEvent,
  TreeStreamChanges,
  TreeStreamSnapshot,
} from "./types.js";

/** Points kept per chart: ten minutes at one a second. */
const KEPT_POINTS = 600;

/** Per-second samples for the charts. */
export interface Series {
  t: number[];
  sessions: number[];
  running: number[];
  turns: number[];
  restarts: number[];
}

export interface ObserverState {
  /** Whether the server wants a token the page does not have (or refused the one it has). */
  auth: "checking" | "needed" | "ok";
  connected: boolean;
  /** The server runs in development mode: kill buttons are shown. */
  dev: boolean;
  /** The cluster node this server is (cluster mode only). */
  node: string | undefined;
  system: ObservedProcess | undefined;
  sessions: ReadonlyMap<string, ObservedSession>;
  series: Series;
}

export const observer = new Store<ObserverState>({
  auth: "checking",
  connected: false,
  dev: false,
  node: undefined,
  system: undefined,
  sessions: new Map(),
  series: { t: [], sessions: [], running: [], turns: [], restarts: [] },
});

const RUNNING = new Set(["active", "idle", "initializing", "recovering"]);

/** Turns and restarts seen since the last sample. */
const counted = { turns: 0, restarts: 0 };

function withSession(
  id: string,
  change: (s: ObservedSession | undefined) => ObservedSession | undefined,
): void {
  observer.update((state) => {
    const sessions = new Map(state.sessions);
    const changed = change(sessions.get(id));
    if (changed) sessions.set(id, changed);
    else sessions.delete(id);
    return { ...state, sessions };
  });
}

/** What the global event stream says at once, before the tree stream's next change arrives. */
function onEvent(event: SessionEvent): void {
  switch (event.type) {
    case "session_created":
      if (event.info) {
        const info = event.info;
        withSession(event.sessionId, (s) => ({
          restarts: 0,
          hibernated: false,
          statusChangedAt: info.createdAt,
          ...s,
          id: info.id,
          ...(info.name === undefined ? {} : { name: info.name }),
          status: info.status,
          createdAt: info.createdAt,
        }));
      }
      break;
    case "session_status":
      withSession(event.sessionId, (s) =>
        s && event.status
          ? { ...s, status: event.status, statusChangedAt: event.at ?? s.statusChangedAt }
          : s,
      );
      break;
    case "session_crashed":
      counted.restarts++;
      withSession(event.sessionId, (s) =>
        s ? { ...s, lastCrash: { reason: describe(event.reason), at: event.at ?? "" } } : s,
      );
      break;
    case "session_terminated":
      withSession(event.sessionId, (s) => (s ? { ...s, status: "terminated" } : s));
      break;
    case "turn_started":
      counted.turns++;
      break;
  }
}

/** A crash reason in one line (the server's tree stream says the same, once it looks again). */
export function describe(reason: unknown): string {
  if (typeof reason === "string") return reason;
  const error = reason as { name?: unknown; error?: unknown; message?: unknown } | null;
  if (typeof error === "object" && error !== null && typeof error.message === "string") {
    const name =
      typeof error.name === "string" ? error.name : typeof error.error === "string" ? error.error : "Error";
    return `${name}: ${error.message}`;
  }
  return JSON.stringify(reason) ?? String(reason);
}

function applySnapshot(snapshot: TreeStreamSnapshot): void {
  observer.update((state) => ({
    ...state,
    auth: "ok",
    connected: true,
    dev: snapshot.dev,
    node: snapshot.node,
    system: snapshot.system,
    sessions: new Map(snapshot.sessions.map((s) => [s.id, s])),
  }));
}

function applyChanges(changes: TreeStreamChanges): void {
  observer.update((state) => {
    const sessions = new Map(state.sessions);
    for (const session of changes.sessions) sessions.set(session.id, session);
    for (const id of changes.removed) sessions.delete(id);
    return { ...state, system: changes.system ?? state.system, sessions };
  });
}

function sample(): void {
  observer.update((state) => {
    const keep = (values: number[], value: number) => [...values.slice(-(KEPT_POINTS - 1)), value];
    let running = 0;
    for (const session of state.sessions.values()) if (RUNNING.has(session.status)) running++;
    const { series } = state;
    const next: Series = {
      t: keep(series.t, Math.floor(Date.now() / 1000)),
      sessions: keep(series.sessions, state.sessions.size),
      running: keep(series.running, running),
      turns: keep(series.turns, counted.turns),
      restarts: keep(series.restarts, counted.restarts),
    };
    counted.turns = 0;
    counted.restarts = 0;
    return { ...state, series: next };
  });
}

let stopAll: (() => void) | undefined;

/**
 * Opens the two pushed streams the overview lives on: the tree (a snapshot, then changes at
 * most once a second) and every session's events (status changes at once). Again after a new
 * token.
 */
export function connect(): void {
  stopAll?.();
  whenUnauthorized(() => {
    stopAll?.();
    stopAll = undefined;
    observer.update((state) => ({ ...state, auth: "needed", connected: false }));
  });
  const stopTree = stream("/v1/tree/stream", {
    onMessage: (message) => {
      if (message.event === "snapshot") applySnapshot(JSON.parse(message.data) as TreeStreamSnapshot);
      else if (message.event === "changes") applyChanges(JSON.parse(message.data) as TreeStreamChanges);
    },
    onDown: () => observer.update((state) => ({ ...state, connected: false })),
  });
  // Only what the overview shows at once: a busy server's token deltas never travel.
  const types = "session_created,session_status,session_crashed,session_terminated,turn_started";
  const stopEvents = stream(`/v1/events?types=${types}`, {
    onMessage: (message) => {
      if (message.event !== "error") onEvent(JSON.parse(message.data) as SessionEvent);
    },
  });
  const timer = setInterval(sample, 1000);
  stopAll = () => {
    stopTree();
    stopEvents();
    clearInterval(timer);
  };
}
