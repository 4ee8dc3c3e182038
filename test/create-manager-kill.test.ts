// Creates under random kills of the session manager, on an SQLite file: every create a caller
// was answered is listed and active, every session tree the sessions supervisor holds belongs to
// a listed session (none runs unseen after its manager died between starting it and storing
// it), the store holds exactly what is listed, and nothing is left once all are terminated.
//
// CREATE_KILL_SEED replays a run: a failure prints the seed it ran with.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { DynamicSupervisor, type SessionSystem } from "../src/index.js";
import { SESSION_MANAGER_NAME, SESSIONS_SUPERVISOR_NAME } from "../src/session/deps.js";
import { allActive, envNumber, footprint, mulberry32 } from "./support/chaos.js";
import { startSystem } from "./support/sessions.js";

const SEED = envNumber("CREATE_KILL_SEED", Math.floor(Math.random() * 2 ** 31));
const CHAOS_MS = 5000;
/** The root allows 10 restarts in 5 s: kills at least this far apart stay under that. */
const KILL_GAP_MS = 600;
const CREATORS = 4;
const SETTLE_MS = 30_000;

const dir = mkdtempSync(join(tmpdir(), "sessionvisor-create-manager-kill-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Creates one session after another until the deadline; the ids it was answered. */
async function creator(sys: SessionSystem, deadline: number, acknowledged: string[]): Promise<number> {
  let refused = 0;
  while (Date.now() < deadline) {
    try {
      acknowledged.push((await sys.createSession({ metadata: { creator: true } })).id);
    } catch {
      // The manager died with the create in hand: the caller learns of no session.
      refused++;
      await sleep(1);
    }
  }
  return refused;
}

async function killManagerUntil(sys: SessionSystem, deadline: number, random: () => number) {
  let kills = 0;
  while (Date.now() < deadline) {
    await sleep(KILL_GAP_MS + Math.floor(random() * 200));
    const manager = sys.registry.whereis(SESSION_MANAGER_NAME);
    if (manager && sys.runtime.isAlive(manager)) {
      sys.runtime.exit(manager, "kill");
      kills++;
    }
  }
  return kills;
}

describe("createSession under random kills of the session manager", () => {
  it("loses no answered create and leaves no session tree without a listed session", {
    timeout: CHAOS_MS + SETTLE_MS + 30_000,
  }, async (t) => {
    t.diagnostic(`CREATE_KILL_SEED=${SEED}`);
    const sys = await startSystem({
      storePath: join(dir, `creates-${SEED}.db`),
      maxSessions: 100_000,
    });
    try {
      const before = footprint(sys);
      const deadline = Date.now() + CHAOS_MS;
      const acknowledged: string[] = [];
      const [kills, ...refused] = await Promise.all([
        killManagerUntil(sys, deadline, mulberry32(SEED)),
        ...Array.from({ length: CREATORS }, () => creator(sys, deadline, acknowledged)),
      ]);
      t.diagnostic(`${kills} manager kills, ${acknowledged.length} creates answered, ${refused} refused`);
      assert.ok(kills >= 3, `the manager was killed ${kills} times`);

      await allActive(sys, acknowledged, SETTLE_MS);
      // The manager that survived the chaos has rebuilt from the store and stopped stray trees.
      // Thousands of ids: what differs is compared, so that a failure prints a short diff.
      const apart = async () => {
        const trees = new Set(
          (await DynamicSupervisor.whichChildren(sys.runtime, SESSIONS_SUPERVISOR_NAME)).map((c) =>
            String(c.id),
          ),
        );
        const listed = new Set((await sys.listSessions()).map((s) => s.id));
        const stored = new Set((await sys.store.listSessions()).map((s) => s.id));
        return {
          treesNotListed: [...trees].filter((id) => !listed.has(id)),
          listedWithoutTree: [...listed].filter((id) => !trees.has(id)),
          storedNotListed: [...stored].filter((id) => !listed.has(id)),
          listedNotStored: [...listed].filter((id) => !stored.has(id)),
        };
      };
      const agreed = { treesNotListed: [], listedWithoutTree: [], storedNotListed: [], listedNotStored: [] };
      let differences = await apart();
      for (const until = Date.now() + SETTLE_MS; Date.now() < until; await sleep(50)) {
        differences = await apart();
        if (JSON.stringify(differences) === JSON.stringify(agreed)) break;
      }
      assert.deepEqual(differences, agreed, "trees, the listing and the store name the same sessions");
      const listed = (await sys.listSessions()).map((s) => s.id);
      for (const id of listed) await sys.terminateSession(id);
      assert.deepEqual(footprint(sys), before, "no process, registry key or subscription is left behind");
    } catch (error) {
      console.error(`failed: replay with CREATE_KILL_SEED=${SEED}`);
      throw error;
    } finally {
      await sys.stop();
    }
  });
});
