import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { defaultProviders } from "../llm/index.js";
import { PubSub, Registry } from "../registry/index.js";
import { type Pid, Runtime, silentLogger } from "../runtime/index.js";
import { MemorySessionStore } from "../store/index.js";
import { type ChildSpec, ChildStartError, DynamicSupervisor } from "../supervision/index.js";
import { parseSessionConfig } from "./config.js";
import { ContextStore } from "./context-store.js";
import type { SessionDeps } from "./deps.js";
import { newSessionId, sessionKeys } from "./session-id.js";
import { sessionChildSpec } from "./session-placement.js";

const runtimes: Runtime[] = [];
afterEach(async () => {
  for (const runtime of runtimes.splice(0)) await runtime.shutdown();
});

async function sessions() {
  const runtime = new Runtime({ logger: silentLogger() });
  runtimes.push(runtime);
  const registry = new Registry(runtime, { keys: "unique", names: true });
  const providers = defaultProviders().register("broken", () => {
    throw new Error("no API key");
  });
  const deps: SessionDeps = {
    runtime,
    registry,
    pubsub: new PubSub(runtime),
    store: new MemorySessionStore(),
    contextStore: new ContextStore(),
    providers,
    now: () => new Date(),
  };
  const supervisor = await DynamicSupervisor.start(runtime, { maxRestarts: 3, period: 5000 });
  return { runtime, registry, deps, supervisor };
}

/** The same spec with a plain start function: the path a copied spec takes, with a promise per start. */
function withoutFastPath(spec: ChildSpec): ChildSpec {
  return { ...spec, start: (ctx) => spec.start(ctx) };
}

describe("sessionChildSpec (inline)", () => {
  for (const [path, wrap] of [
    ["its own start", (spec: ChildSpec) => spec],
    ["a copied start function", withoutFastPath],
  ] as const) {
    it(`starts the session's supervisor and both agents, all registered, through ${path}`, async () => {
      const { runtime, registry, deps, supervisor } = await sessions();
      const id = newSessionId();
      const spec = wrap(sessionChildSpec(id, parseSessionConfig({}), deps, { fresh: true }));
      const pid = (await DynamicSupervisor.startChild(runtime, supervisor, spec)) as Pid;
      const keys = sessionKeys(id);
      assert.ok(pid.equals(registry.whereis(keys.supervisor) as Pid));
      assert.ok(registry.whereis(keys.contextManager));
      assert.ok(registry.whereis(keys.orchestrator));
      assert.equal((await DynamicSupervisor.countChildren(runtime, supervisor)).active, 1);
    });

    it(`fails with the agent's init error and leaves nothing running through ${path}`, async () => {
      const { runtime, registry, deps, supervisor } = await sessions();
      const processesBefore = runtime.processCount;
      const config = parseSessionConfig({ llm: { provider: "broken" } });
      const spec = wrap(sessionChildSpec(newSessionId(), config, deps, { fresh: true }));
      await assert.rejects(DynamicSupervisor.startChild(runtime, supervisor, spec), (error: unknown) => {
        assert.ok(error instanceof ChildStartError, String(error));
        assert.match(String(error.message), /no API key/);
        return true;
      });
      assert.equal(runtime.processCount, processesBefore);
      assert.equal(registry.count(), 0);
      assert.equal((await DynamicSupervisor.countChildren(runtime, supervisor)).active, 0);
    });
  }
});
