// A bounded chaos soak of the tool loop: clients send turns that call tools (reads, parallel
// calls, edits, commands) to SQLite-backed sessions with projects, while random kills hit their
// orchestrators, context managers and supervisors. Afterwards every history must be honest:
// each tool call asked for has exactly one result after it, no result names a call that was
// never asked for, every user turn is answered or marked with how it ended, every acknowledged
// reply is kept, the project's file is whole (one of the versions written), and nothing leaks.
//
// TOOL_SOAK_MS sets how long the chaos runs (default 8 s); TOOL_SOAK_SEED replays a run.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { ConversationTurn } from "../src/index.js";
import { allActive, envNumber, footprint, mulberry32 } from "./support/chaos.js";
import { startSystem } from "./support/sessions.js";

const SOAK_MS = envNumber("TOOL_SOAK_MS", 8_000);
const SEED = envNumber("TOOL_SOAK_SEED", Math.floor(Math.random() * 2 ** 31));
const SESSIONS = 4;
const TURN_TIMEOUT_MS = 15_000;
const SETTLE_MS = 30_000;
/** The versions of `notes.txt` a client may write: a torn write would be none of them. */
const VERSIONS = ["alpha\n", "beta beta\n", "gamma gamma gamma\n"];

const dir = mkdtempSync(join(tmpdir(), "sessionvisor-tool-soak-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Turns a client sends: each asks the offline model for tool calls, one or several at once. */
const SCRIPTS = [
  "tool read_file notes.txt",
  "tool list_files .\ntool read_file notes.txt",
  "tool search alpha",
  'tool run_command {"command": "echo hello"}',
  ...VERSIONS.map((content) => `tool write_file ${JSON.stringify({ path: "notes.txt", content })}`),
];

describe("the tool loop under chaos", () => {
  it("keeps every history honest under random kills: one result per call, every turn ended, files whole, nothing leaked", {
    timeout: SOAK_MS + 90_000,
  }, async (t) => {
    t.diagnostic(`TOOL_SOAK_SEED=${SEED} TOOL_SOAK_MS=${SOAK_MS}`);
    const random = mulberry32(SEED);
    const sys = await startSystem({
      storePath: join(dir, `tool-soak-${SEED}.db`),
      sessionRestartBudget: { maxRestarts: 1000, period: 5000 },
      turnTimeoutMs: TURN_TIMEOUT_MS,
    });
    try {
      const before = footprint(sys);
      const ids: string[] = [];
      const projects = new Map<string, string>();
      for (let i = 0; i < SESSIONS; i++) {
        const project = join(dir, `project-${SEED}-${i}`);
        mkdirSync(project);
        writeFileSync(join(project, "notes.txt"), VERSIONS[0] as string);
        const { id } = await sys.createSession({
          projectPath: project,
          limits: { maxHistory: 100_000 },
          tools: { approval: { command: "auto" } },
        });
        ids.push(id);
        projects.set(id, project);
      }
      const deadline = Date.now() + SOAK_MS;
      const acknowledged: { sessionId: string; turnId: string; reply: string }[] = [];
      const clients = ids.map((id, i) =>
        (async () => {
          const rand = mulberry32(SEED + 104_729 * (i + 1));
          while (Date.now() < deadline) {
            const text = SCRIPTS[Math.floor(rand() * SCRIPTS.length)] as string;
            try {
              const reply = await sys.sendMessage(id, text, { timeoutMs: TURN_TIMEOUT_MS });
              acknowledged.push({ sessionId: id, turnId: reply.turnId, reply: reply.text });
            } catch {
              // Refused or interrupted by the chaos: the history must still say so.
            }
            await sleep(Math.floor(rand() * 20));
          }
        })(),
      );
      let kills = 0;
      while (Date.now() < deadline) {
        await sleep(30 + Math.floor(random() * 120));
        const id = ids[Math.floor(random() * ids.length)] as string;
        const kind = ["session_supervisor", "context_manager", "llm_orchestrator"][Math.floor(random() * 3)];
        const pid = sys.registry.whereis(`${kind}:${id}`);
        if (pid) {
          sys.runtime.exit(pid, "kill");
          kills++;
        }
      }
      await Promise.all(clients);
      t.diagnostic(`kills ${kills}; acknowledged ${acknowledged.length}`);
      assert.ok(acknowledged.length > 0, "some turns got through the chaos");

      await allActive(sys, ids, SETTLE_MS);
      for (const id of ids) {
        const history = await sys.getHistory(id);
        checkHonest(id, history);
        const content = readFileSync(join(projects.get(id) as string, "notes.txt"), "utf8");
        assert.ok(VERSIONS.includes(content), `${id}: notes.txt is one of the versions written`);
      }
      for (const ack of acknowledged) {
        const history = await sys.getHistory(ack.sessionId);
        const at = history.findIndex((turn) => turn.id === ack.turnId);
        assert.ok(at >= 0, `acknowledged turn ${ack.turnId} is kept`);
        assert.ok(
          history
            .slice(at + 1)
            .some((turn) => turn.role === "assistant" && !turn.toolCalls && turn.content === ack.reply),
          `the reply to ${ack.turnId} is kept`,
        );
      }
      for (const id of ids) await sys.terminateSession(id);
      assert.deepEqual(footprint(sys), before, "no process, registry key or subscription is left behind");
    } catch (error) {
      console.error(`tool soak failed: replay with TOOL_SOAK_SEED=${SEED} TOOL_SOAK_MS=${SOAK_MS}`);
      throw error;
    } finally {
      await sys.stop();
    }
  });
});

/** The history rules a crash must never break. */
function checkHonest(id: string, history: ConversationTurn[]): void {
  let open = new Map<string, string>();
  let user: ConversationTurn | undefined;
  let answered = false;
  const endOfTurn = () => {
    if (!user) return;
    assert.deepEqual([...open.keys()], [], `${id}: every call of ${user.id} has its result`);
    if (!answered)
      assert.notEqual(user.status, "complete", `${id}: ${user.id} got no reply, so it is marked`);
  };
  for (const turn of history) {
    if (turn.role === "user") {
      endOfTurn();
      user = turn;
      answered = false;
      open = new Map();
      continue;
    }
    if (turn.role === "assistant" && turn.toolCalls) {
      for (const call of turn.toolCalls) open.set(call.id, call.name);
    } else if (turn.role === "tool") {
      assert.ok(
        turn.toolCallId !== undefined && open.has(turn.toolCallId),
        `${id}: result ${turn.id} answers a call that was asked for and had no result yet`,
      );
      open.delete(turn.toolCallId as string);
    } else if (turn.role === "assistant") {
      answered = true;
    }
  }
  endOfTurn();
}
