import { afterEach } from "node:test";
import {
  type SessionEvent,
  SessionSystem,
  type SessionSystemOptions,
  silentLogger,
} from "../../src/index.js";

/**
 * For a test file: a `start` that starts a session system with a silent logger, each one
 * stopped after its test.
 */
export function systemsForTests(): (options?: SessionSystemOptions) => Promise<SessionSystem> {
  const running: SessionSystem[] = [];
  afterEach(async () => {
    for (const system of running.splice(0)) await system.stop();
  });
  return async (options = {}) => {
    const system = await startSystem(options);
    running.push(system);
    return system;
  };
}

/** A session system with a silent logger, for tests. */
export function startSystem(options: SessionSystemOptions = {}): Promise<SessionSystem> {
  return SessionSystem.start({ logger: silentLogger(), ...options });
}

/** Collects events; `waitFor` resolves when one matching `test` has arrived. */
export function recorder() {
  const events: SessionEvent[] = [];
  const waiters: { test: (e: SessionEvent) => boolean; resolve: (e: SessionEvent) => void }[] = [];
  return {
    events,
    listener: (event: SessionEvent) => {
      events.push(event);
      for (const w of [...waiters]) {
        if (w.test(event)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(event);
        }
      }
    },
    waitFor(test: (e: SessionEvent) => boolean, ms = 3000): Promise<SessionEvent> {
      const seen = events.find(test);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching event within ${ms} ms`)), ms);
        waiters.push({
          test,
          resolve: (e) => {
            clearTimeout(timer);
            resolve(e);
          },
        });
      });
    },
  };
}

export function statuses(events: SessionEvent[], sessionId: string): string[] {
  return events.flatMap((e) => (e.type === "session_status" && e.sessionId === sessionId ? [e.status] : []));
}
