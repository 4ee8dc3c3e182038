// A bounded chaos soak: clients talk to SQLite-backed sessions while random kills hit session
// supervisors, agents, the manager and the sessions supervisor. Afterwards every acknowledged
// turn must be in its history, every user turn left without a reply must be `interrupted`, no
// session may be failed (none spends its budget here), and nothing may leak.
//
// SOAK_MS sets how long the chaos runs (default 15 s; the whole test stays under 60 s);
// SOAK_SEED replays a run: a failure prints the seed it ran with.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type ConversationTurn,
  defaultProviders,
  type SessionSystem,
  type Subscription,
} from "../src/index.js";
import { allActive, envNumber, footprint, mulberry32 } from "./support/chaos.js";
import { startSystem } from "./support/sessions.js";

const SOAK_MS = envNumber("SOAK_MS", 15_000);
const SEED = envNumber("SOAK_SEED", Math.floor(Math.random() * 2 ** 31));
const SESSIONS = 8;
/** The root allows 10 restarts in 5 s: tree kills stay well under that. */
const TREE_KILL_GAP_MS = 1200;
/** Generous on a loaded 2-core machine; a healthy turn takes milliseconds. */
const TURN_TIMEOUT_MS = 15_000;
const SETTLE_MS = 30_000;

const dir = mkdtempSync(join(tmpdir(), "sessionvisor-soak-"));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Acknowledged {
  sessionId: string;
  turnId: string;
  sent: string;
  reply: string;
}

describe("soak", () => {
  it("under random kills of sessions, agents, the manager and the sessions supervisor, acknowledged turns are kept, unanswered ones are interrupted, and nothing leaks", {
    timeout: SOAK_MS + 90_000,
  }, async (t) => {
    t.diagnostic(`SOAK_SEED=${SEED} SOAK_MS=${SOAK_MS}`);
    // Its own sequence for the chaos and for each client, so that a replay kills the same way.
    const random = mulberry32(SEED);
    const sys = await startSystem({
      storePath: join(dir, `soak-${SEED}.db`),
      providers: defaultProviders({ chunkDelayMs: 2 }),
      sessionRestartBudget: { maxRestarts: 1000, period: 5000 },
      turnTimeoutMs: TURN_TIMEOUT_MS,
    });
    try {
      const before = footprint(sys);
      const ids: string[] = [];
      const subscriptions: Subscription[] = [];
      for (let i = 0; i < SESSIONS; i++) {
        const { id } = await sys.createSession({ name: `soak${i}`, limits: { maxHistory: 100_000 } });
        ids.push(id);
        subscriptions.push(await sys.subscribe(id, () => {}));
      }
      subscriptions.push(sys.subscribeAll(() => {}));

      const deadline = Date.now() + SOAK_MS;
      const acknowledged: Acknowledged[] = [];
      const refused = new Map<string, number>();
      const clients = ids.flatMap((id, i) =>
        // Two clients on some sessions, so that turns also queue.
        Array.from({ length: i % 2 === 0 ? 2 : 1 }, (_, c) =>
          client(
            sys,
            id,
            `${i}.${c}`,
            deadline,
            mulberry32(SEED + 7919 * (2 * i + c + 1)),
            acknowledged,
            refused,
          ),
        ),
      );
      const kills = await chaos(sys, ids, deadline, random);
      await Promise.all(clients);
      t.diagnostic(
        `kills ${JSON.stringify(kills)}; acknowledged ${acknowledged.length}; refused ${JSON.stringify(Object.fromEntries(refused))}`,
      );

      await allActive(sys, ids, SETTLE_MS);
      const histories = new Map<string, ConversationTurn[]>();
      for (const id of ids) histories.set(id, await sys.getHistory(id));

      for (const ack of acknowledged) {
        const history = histories.get(ack.sessionId) ?? [];
        const at = history.findIndex((turn) => turn.id === ack.turnId);
        assert.ok(at >= 0, `acknowledged turn ${ack.turnId} of ${ack.sessionId} is in its history`);
        assert.equal(history[at]?.content, ack.sent, `turn ${ack.turnId} holds what was sent`);
        assert.ok(
          history.slice(at + 1).some((turn) => turn.role === "assistant" && turn.content === ack.reply),
          `the reply to ${ack.turnId} of ${ack.sessionId} is in its history`,
        );
      }
      for (const [id, history] of histories) {
        for (const [i, turn] of history.entries()) {
          if (turn.role !== "user") continue;
          const next = history[i + 1];
          const answered = next?.role === "assistant" && next.status === "complete";
          if (!answered) {
            assert.equal(
              turn.status,
              "interrupted",
              `${id}: user turn ${turn.id} got no reply, so it is interrupted`,
            );
          }
        }
      }

      for (const subscription of subscriptions) subscription.unsubscribe();
      for (const id of ids) await sys.terminateSession(id);
      assert.deepEqual(footprint(sys), before, "no process, registry key or subscription is left behind");
    } catch (error) {
      console.error(`soak failed: replay with SOAK_SEED=${SEED} SOAK_MS=${SOAK_MS}`);
      throw error;
    } finally {
      await sys.stop();
    }
  });
});

/** Sends messages one after the other until the deadline, recording which were acknowledged. */
async function client(
  sys: SessionSystem,
  sessionId: string,
  name: string,
  deadline: number,
  random: () => number,
  acknowledged: Acknowledged[],
  refused: Map<string, number>,
): Promise<void> {
  for (let n = 0; Date.now() < deadline; n++) {
    const reply = `c${name} n${n} three more words`;
    const sent = `echo ${reply}`;
    try {
      const answer = await sys.sendMessage(sessionId, sent, { timeoutMs: TURN_TIMEOUT_MS });
      assert.equal(answer.text, reply);
      acknowledged.push({ sessionId, turnId: answer.turnId, sent, reply });
    } catch (error) {
      const kind = error instanceof Error ? error.name : typeof error;
      refused.set(kind, (refused.get(kind) ?? 0) + 1);
    }
    await sleep(Math.floor(random() * 25));
  }
}

/** Kills random processes until the deadline; returns how many of each kind were killed. */
async function chaos(
  sys: SessionSystem,
  ids: string[],
  deadline: number,
  random: () => number,
): Promise<Record<string, number>> {
  const kills: Record<string, number> = {};
  let lastTreeKill = Date.now();
  while (Date.now() < deadline) {
    await sleep(20 + Math.floor(random() * 80));
    const roll = random();
    let names: string[];
    if (roll < 0.12 && Date.now() - lastTreeKill >= TREE_KILL_GAP_MS) {
      lastTreeKill = Date.now();
      const which = random();
      names =
        which < 0.4
          ? ["session_manager"]
          : which < 0.8
            ? ["sessions_supervisor"]
            : ["session_manager", "sessions_supervisor"];
    } else {
      const id = ids[Math.floor(random() * ids.length)] as string;
      const kind = ["session_supervisor", "context_manager", "llm_orchestrator"][Math.floor(random() * 3)];
      names = [`${kind}:${id}`];
    }
    for (const name of names) {
      const pid = sys.registry.whereis(name);
      if (!pid) continue;
      sys.runtime.exit(pid, "kill");
      const kind = name.split(":")[0] as string;
      kills[kind] = (kills[kind] ?? 0) + 1;
    }
  }
  return kills;
}
