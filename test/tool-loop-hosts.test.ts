// The tool loop of sessions in worker threads and child processes: tools run in the host, an
// approval and a cancel reach the host's orchestrator, and the typed errors cross back.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type SessionSystem, TurnCancelledError } from "../src/index.js";
import { scriptedProviders } from "./fixtures/scripted-provider.js";
import { recorder, startSystem } from "./support/sessions.js";

const SCRIPTED = {
  module: new URL("./fixtures/scripted-provider.ts", import.meta.url),
  export: "scriptedProviders",
};
const T = { timeout: 60_000 };
const script = (...steps: unknown[]) => JSON.stringify(steps);

for (const isolation of ["thread", "process"] as const) {
  describe(`the tool loop of a session in ${isolation} isolation`, () => {
    let system: SessionSystem;
    let dir: string;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), "sessionvisor-loop-hosts-"));
      writeFileSync(join(dir, "a.txt"), "alpha\n");
      system = await startSystem({
        providers: scriptedProviders(),
        hostProviders: SCRIPTED,
        hostLimits: { hangTimeoutMs: 5000, maxMemoryMb: 2048 },
      });
    });

    after(async () => {
      await system?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it(`${isolation}: an approved edit runs in the host and its diff reaches the subscriber`, T, async () => {
      const { id } = await system.createSession({
        isolation,
        projectPath: dir,
        llm: { provider: "scripted" },
        tools: { approval: { write: "ask" } },
      });
      const rec = recorder();
      await system.subscribe(id, rec.listener);
      const turn = system.sendMessage(
        id,
        script(
          { calls: [{ name: "read_file", input: { path: "a.txt" } }] },
          { calls: [{ name: "edit", input: { path: "a.txt", oldString: "alpha", newString: "beta" } }] },
          { text: "done" },
        ),
      );
      const asked = await rec.waitFor((e) => e.type === "tool_approval_requested", 20_000);
      assert.ok(asked.type === "tool_approval_requested");
      await system.approveToolCall(id, asked.callId);
      assert.equal((await turn).text, "done");
      assert.equal(readFileSync(join(dir, "a.txt"), "utf8"), "beta\n");
      const result = rec.events.find((e) => e.type === "tool_result" && e.name === "edit");
      assert.ok(result?.type === "tool_result" && result.diff?.includes("+beta"));
    });

    it(
      `${isolation}: a cancelled turn kills the host's command and rejects with TurnCancelledError`,
      T,
      async () => {
        const { id } = await system.createSession({
          isolation,
          projectPath: dir,
          llm: { provider: "scripted" },
          tools: { approval: { command: "auto" } },
        });
        const rec = recorder();
        await system.subscribe(id, rec.listener);
        const controller = new AbortController();
        const turn = system.sendMessage(
          id,
          script({ calls: [{ name: "run_command", input: { command: "sleep 30" } }] }, { text: "never" }),
          { signal: controller.signal },
        );
        await rec.waitFor((e) => e.type === "tool_call", 20_000);
        controller.abort();
        await assert.rejects(turn, TurnCancelledError);
        const history = await system.getHistory(id);
        assert.equal(history[0]?.status, "cancelled");
        const result = history.find((t) => t.role === "tool");
        assert.equal(result?.isError, true);
        assert.match(result?.content ?? "", /tool_aborted/);
      },
    );
  });
}
