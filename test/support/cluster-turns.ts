// What the cluster's failover tests share: waiting for a probe across nodes, and checking that
// the sessions of a node that went away answer elsewhere with every acknowledged turn kept.
import assert from "node:assert/strict";
import type { ConversationTurn } from "../../src/index.js";

/** Probes until it gives a value (a probe that throws counts as not yet), or fails after `ms`. */
export async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface Answered {
  id: string;
  turns: ConversationTurn[];
  /** From `since` to the first history this session answered with. */
  ms: number;
}

/** Each session's history as soon as one node answers for it, within `ms`. */
export function historiesAnswered(
  client: { getHistory(id: string): Promise<ConversationTurn[]> },
  ids: string[],
  since: number,
  ms: number,
  when: string,
): Promise<Answered[]> {
  return Promise.all(
    ids.map(async (id) => {
      const turns = await until(`session ${id} ${when}`, ms, () => client.getHistory(id));
      return { id, turns, ms: Date.now() - since };
    }),
  );
}

/** Every acknowledged user turn (by its text) is in its session's history, complete. */
export function assertAcknowledgedKept(answered: Answered[], acknowledged: Map<string, string[]>): void {
  for (const { id, turns } of answered) {
    const users = turns.filter((turn) => turn.role === "user");
    for (const text of acknowledged.get(id) ?? [])
      assert.ok(
        users.some((turn) => turn.content === text && turn.status === "complete"),
        `acknowledged turn ${text} of ${id}`,
      );
  }
}
