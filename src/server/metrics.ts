import type { Registry } from "prom-client";
import type { Subscription } from "../registry/index.js";
import { SESSION_STATUSES, type SessionEvent, type SessionSystem } from "../session/index.js";

/** How a turn ended, as `sessionvisor_turns_total{status}` counts it. */
export type TurnEnding = "completed" | "failed" | "cancelled" | "timed_out" | "interrupted";

/**
 * An `llm_error` is followed, for a turn cancelled or timed out, by `turn_cancelled` or
 * `turn_timed_out`: it is counted `failed` only when neither comes within this time.
 */
const FAILED_GRACE_MS = 2000;

const HOST_KINDS = ["thread", "process"] as const;
const MEMORY_FIELDS = ["heapUsed", "heapLimit", "external", "rss"] as const;

/** The Prometheus metrics of one server: its own registry, fed by the session system's events. */
export interface ServerMetrics {
  readonly registry: Registry;
  /** The Prometheus text of every metric (the registry's content type: `contentType`). */
  scrape(): Promise<string>;
  readonly contentType: string;
  /** Stops listening to events (idempotent). */
  close(): void;
}

/**
 * Makes the metrics of `system` in a registry of their own (two servers in one process do not
 * share one): sessions by status, session restarts, turns by ending and their durations, hosts
 * by kind and their memory, and prom-client's default process metrics. prom-client is loaded
 * here, when a server is first made.
 */
export async function createMetrics(system: SessionSystem): Promise<ServerMetrics> {
  const prom = await import("prom-client");
  const registry = new prom.Registry();
  prom.collectDefaultMetrics({ register: registry });

  new prom.Gauge({
    name: "sessionvisor_sessions",
    help: "Sessions by status (terminated ones are not counted)",
    labelNames: ["status"] as const,
    registers: [registry],
    async collect() {
      const counts = new Map<string, number>(SESSION_STATUSES.map((s) => [s, 0]));
      for (const info of await system.listSessions())
        counts.set(info.status, (counts.get(info.status) ?? 0) + 1);
      for (const [status, count] of counts) this.set({ status }, count);
    },
  });
  const restarts = new prom.Counter({
    name: "sessionvisor_session_restarts_total",
    help: "Times a session's processes were brought back after a crash",
    registers: [registry],
  });
  const turns = new prom.Counter({
    name: "sessionvisor_turns_total",
    help: "Turns ended, by how they ended",
    labelNames: ["status"] as const,
    registers: [registry],
  });
  const durations = new prom.Histogram({
    name: "sessionvisor_turn_duration_seconds",
    help: "Time from a turn's start to its end, in seconds",
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [registry],
  });
  new prom.Gauge({
    name: "sessionvisor_hosts",
    help: "Hosts (worker threads, child processes) running sessions or idle, by kind",
    labelNames: ["kind"] as const,
    registers: [registry],
    collect() {
      const counts = new Map<string, number>(HOST_KINDS.map((k) => [k, 0]));
      for (const host of system.listHosts()) counts.set(host.kind, (counts.get(host.kind) ?? 0) + 1);
      for (const [kind, count] of counts) this.set({ kind }, count);
    },
  });
  new prom.Gauge({
    name: "sessionvisor_host_memory_bytes",
    help: "Memory of each host from its latest heartbeat: heapUsed, heapLimit, external, rss",
    labelNames: ["host", "kind", "type"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const host of system.listHosts()) {
        if (!host.memory) continue;
        for (const type of MEMORY_FIELDS)
          this.set({ host: host.id, kind: host.kind, type }, host.memory[type]);
      }
    },
  });
  for (const status of ["completed", "failed", "cancelled", "timed_out", "interrupted"] as const) {
    turns.inc({ status }, 0);
  }

  // Turns under way: started at (performance.now()), by session and turn id.
  const started = new Map<string, number>();
  const failing = new Map<string, ReturnType<typeof setTimeout>>();
  const end = (key: string, status: TurnEnding, at = performance.now()): void => {
    const timer = failing.get(key);
    if (timer) {
      clearTimeout(timer);
      failing.delete(key);
    }
    const from = started.get(key);
    if (from === undefined) return;
    started.delete(key);
    turns.inc({ status });
    durations.observe((at - from) / 1000);
  };
  const onEvent = (event: SessionEvent): void => {
    const key = (turnId: string) => `${event.sessionId} ${turnId}`;
    switch (event.type) {
      case "turn_started":
        started.set(key(event.turnId), performance.now());
        break;
      case "llm_done":
        end(key(event.turnId), "completed");
        break;
      case "llm_error": {
        const k = key(event.turnId);
        if (!started.has(k) || failing.has(k)) break;
        const at = performance.now();
        const timer = setTimeout(() => {
          failing.delete(k);
          end(k, "failed", at);
        }, FAILED_GRACE_MS);
        timer.unref();
        failing.set(k, timer);
        break;
      }
      case "turn_cancelled":
        end(key(event.turn.id), "cancelled");
        break;
      case "turn_timed_out":
        end(key(event.turn.id), "timed_out");
        break;
      case "turn_interrupted":
        end(key(event.turn.id), "interrupted");
        break;
      case "session_status":
        if (event.previousStatus === "recovering" && event.status === "active") restarts.inc();
        break;
      case "session_terminated":
        for (const k of [...started.keys()]) if (k.startsWith(`${event.sessionId} `)) end(k, "interrupted");
        break;
      default:
        break;
    }
  };
  let subscription: Subscription | undefined = system.subscribeAll(onEvent);

  return {
    registry,
    contentType: registry.contentType,
    scrape: () => registry.metrics(),
    close() {
      if (!subscription) return;
      try {
        system.unsubscribe(subscription);
      } catch {
        // The system stopped first.
      }
      subscription = undefined;
      for (const timer of failing.values()) clearTimeout(timer);
      failing.clear();
      started.clear();
    },
  };
}
