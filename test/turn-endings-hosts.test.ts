// Turn endings of sessions in worker threads and child processes: a silent provider cannot
// hold a hosted session past its turn deadline, and a host that dies mid-turn leaves the turn
// marked interrupted. The errors cross the host boundary with their class.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type ConversationTurn,
  type Pid,
  type SessionSystem,
  TurnInterruptedError,
  TurnTimedOutError,
} from "../src/index.js";
import { faultProviders } from "./fixtures/fault-provider.js";
import { recorder, startSystem } from "./support/sessions.js";

const FAULT_PROVIDERS = {
  module: new URL("./fixtures/fault-provider.ts", import.meta.url),
  export: "faultProviders",
};
const TURN_TIMEOUT_MS = 1500;
const T = { timeout: 60_000 };

const shape = (turns: ConversationTurn[]) => turns.map((t) => `${t.role}:${t.status}`);

async function until(test: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

for (const isolation of ["thread", "process"] as const) {
  describe(`turn endings of a session in ${isolation} isolation`, () => {
    let system: SessionSystem;

    before(async () => {
      system = await startSystem({
        providers: faultProviders(),
        hostProviders: FAULT_PROVIDERS,
        turnTimeoutMs: TURN_TIMEOUT_MS,
        // Generous: a loaded machine must not take a healthy host for hung. Under tsx a child
        // process needs about 2 GB of address space.
        hostLimits: { hangTimeoutMs: 5000, maxMemoryMb: 2048 },
      });
    });

    after(async () => {
      await system?.stop();
    });

    it(
      `${isolation}: a provider that never answers ends the turn timed_out, and the session answers its next message`,
      T,
      async () => {
        const { id } = await system.createSession({ isolation, llm: { provider: "fault" } });
        const rec = recorder();
        await system.subscribe(id, rec.listener);
        await assert.rejects(
          system.sendMessage(id, "STALL"),
          (e: unknown) => e instanceof TurnTimedOutError && e.sessionId === id && e.turnId === "t1",
        );
        await rec.waitFor((e) => e.type === "turn_timed_out");
        assert.deepEqual(shape(await system.getHistory(id)), ["user:timed_out"]);
        assert.equal((await system.sendMessage(id, "hello")).text, "ok: hello");
        assert.equal((await system.getSession(id))?.status, "active");
      },
    );

    it(
      `${isolation}: a host that dies mid-turn fails the caller with TurnInterruptedError and the turn is marked interrupted`,
      T,
      async () => {
        const { id } = await system.createSession({ isolation, llm: { provider: "fault" } });
        const rec = recorder();
        await system.subscribe(id, rec.listener);
        const reply = system.sendMessage(id, "SLOW");
        reply.catch(() => {});
        await rec.waitFor((e) => e.type === "llm_delta", 20_000);
        const host = system.sessionHost(id);
        if (isolation === "process" && host) process.kill(host.osPid, "SIGKILL");
        else system.runtime.exit(system.findSupervisor(id) as Pid, "kill");
        await assert.rejects(reply, (e: unknown) => e instanceof TurnInterruptedError && e.sessionId === id);
        await rec.waitFor((e) => e.type === "turn_interrupted", 20_000);
        await until(async () => (await system.getSession(id))?.status === "active");
        assert.deepEqual(shape(await system.getHistory(id)), ["user:interrupted"]);
      },
    );
  });
}
