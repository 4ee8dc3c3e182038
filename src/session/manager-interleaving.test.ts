// Requests to the SessionManager fired together in random mixes (creates, terminates, lists,
// hibernates, wakes, messages), as a busy server sends them: whatever the interleaving — creates
// answered in groups after one durable write, other requests waiting for those writes — every
// answer agrees with the others, with the events and with the store.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { systemsForTests } from "../../test/support/sessions.js";
import { MemorySessionStore } from "../store/index.js";
import type { SessionInfo } from "./session-info.js";

const start = systemsForTests();

type Op = "create" | "terminate" | "list" | "hibernate" | "wake" | "send";
const OPS: Op[] = ["create", "create", "create", "terminate", "list", "hibernate", "wake", "send"];

describe("SessionManager under interleaved requests", () => {
  it("answers, events and the store agree however creates and other requests interleave", {
    timeout: 120_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.tuple(fc.constantFrom(...OPS), fc.nat()), { minLength: 1, maxLength: 12 }), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.array(fc.constantFrom("none", "none", "terminate", "hibernate"), { minLength: 1, maxLength: 5 }),
        async (rounds, reactions) => {
          const store = new MemorySessionStore();
          const sys = await start({ store, idleSweepMs: 60_000 });
          // Ids learnt as a subscriber learns them (from session_created), before their create is
          // answered: a request can name a session whose create is still waiting for its write.
          const created: string[] = [];
          const early: Promise<unknown>[] = [];
          const terminated = new Set<string>();
          const announcedActive = new Set<string>();
          sys.subscribeAll((event) => {
            if (event.type === "session_status" && event.status === "active")
              announcedActive.add(event.sessionId);
            if (event.type !== "session_created") return;
            created.push(event.sessionId);
            // A subscriber acting at once on the news: its request reaches the manager while
            // the create is still waiting for its durable write.
            const reaction = reactions[created.length % reactions.length];
            if (reaction === "terminate") {
              terminated.add(event.sessionId);
              early.push(sys.terminateSession(event.sessionId).catch(() => {}));
            } else if (reaction === "hibernate") {
              early.push(sys.hibernateSession(event.sessionId).catch(() => {}));
            }
          });
          for (const round of rounds) {
            // One round is sent at once: the manager's mailbox holds them all together.
            const pick = (n: number) => (created.length > 0 ? created[n % created.length] : undefined);
            const answers = round.map(async ([op, n]): Promise<void> => {
              const id = pick(n);
              switch (op) {
                case "create": {
                  const info = await sys.createSession();
                  // A request made on hearing of it waits for the create's answer.
                  assert.equal(info.status, "active");
                  // Answered only once stored and announced active (a request made on hearing
                  // of it may have changed it since).
                  const stored = (await store.getSession(info.id))?.record.status;
                  assert.ok(stored !== undefined && stored !== "initializing", `stored ${stored}`);
                  assert.ok(announcedActive.has(info.id), "answered before its status event");
                  return;
                }
                case "terminate":
                  if (id === undefined || terminated.has(id)) return;
                  terminated.add(id);
                  await sys.terminateSession(id).catch(() => {});
                  return;
                case "list":
                  for (const s of await sys.listSessions()) assert.notEqual(s.status, "initializing");
                  return;
                case "hibernate":
                  if (id !== undefined) await sys.hibernateSession(id).catch(() => {});
                  return;
                case "wake":
                  if (id !== undefined) await sys.wakeSession(id).catch(() => {});
                  return;
                case "send":
                  if (id !== undefined && !terminated.has(id))
                    await sys.sendMessage(id, "echo hi").catch(() => {});
                  return;
              }
            });
            await Promise.all(answers);
          }
          await Promise.all(early);
          const listed = new Map((await sys.listSessions()).map((s: SessionInfo) => [s.id, s]));
          for (const id of created) {
            const stored = (await store.getSession(id))?.record.status;
            if (terminated.has(id)) {
              assert.equal(listed.has(id), false, `${id} terminated but listed`);
              assert.equal(stored, "terminated");
            } else {
              assert.equal(listed.get(id)?.status, stored, `${id}: listed and stored status differ`);
              assert.ok(stored === "active" || stored === "idle", `${id} stored ${stored}`);
            }
          }
          assert.equal(listed.size, created.length - terminated.size);
          await sys.stop();
        },
      ),
      { numRuns: 40 },
    );
  });
});
