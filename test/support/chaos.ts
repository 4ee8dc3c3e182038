// What the chaos soaks share: a seeded PRNG, a wait for sessions to be active again, the
// system's footprint (processes, registry keys, subscriptions) and numbers from the environment.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import type { SessionSystem } from "../../src/index.js";

/** A small seeded PRNG (mulberry32): the same seed gives the same kills and pauses. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Resolves once every session of `ids` is `active`; fails after `settleMs`. */
export async function allActive(sys: SessionSystem, ids: string[], settleMs: number): Promise<void> {
  const until = Date.now() + settleMs;
  let listed: [string, string][] = [];
  while (Date.now() < until) {
    listed = (await sys.listSessions()).map((s) => [s.id, s.status]);
    if (ids.every((id) => listed.some(([other, status]) => other === id && status === "active"))) return;
    await sleep(50);
  }
  assert.fail(`sessions did not all come back active: ${JSON.stringify(listed)}`);
}

/** What a system holds that a test must leave as it found it. */
export function footprint(sys: SessionSystem) {
  return {
    processes: sys.runtime.processCount,
    registryKeys: sys.registry.count(),
    subscriptions: sys.pubsub.topics().reduce((sum, topic) => sum + sys.pubsub.subscriberCount(topic), 0),
  };
}

export function envNumber(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0)
    throw new Error(`${name} must be a whole number, got ${text}`);
  return value;
}
