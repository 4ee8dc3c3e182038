import type { TestContext } from "node:test";
import type { Logger } from "pino";
import { type HostKind, type HostLimits, Hosts, hostedChild } from "../../src/hosts/index.js";
import { Registry } from "../../src/registry/index.js";
import { type Pid, Runtime, silentLogger } from "../../src/runtime/index.js";
import { DynamicSupervisor } from "../../src/supervision/index.js";

const PROBE = new URL("../fixtures/hosted-probe.ts", import.meta.url);

/** Healthy hosts get a hang timeout a loaded machine cannot trip. */
export const HEALTHY_HOST_LIMITS = { hangTimeoutMs: 5000 };

/** A runtime with hosts of its own, and a way to start probes (test/fixtures/hosted-probe.ts) in them. */
export interface ProbeSystem {
  runtime: Runtime;
  hosts: Hosts;
  /** Starts a temporary probe in a new host of the system's kind; `limits` override the system's. */
  start(limits?: Partial<HostLimits>): Promise<Pid>;
}

/** The child spec of a probe named `name` in a host of `kind` (it registers itself as `name`). */
export function probeSpec(
  hosts: Hosts,
  kind: HostKind,
  name: string,
  restart: "permanent" | "temporary" = "temporary",
  limits?: Partial<HostLimits>,
) {
  return hostedChild(hosts, {
    id: name,
    isolation: kind,
    module: PROBE,
    args: { name },
    type: "worker",
    restart,
    ...(limits ? { limits } : {}),
  });
}

/** A probe system stopped after the test, even when the test fails. */
export function probeSystem(
  t: TestContext,
  kind: HostKind,
  limits: Partial<HostLimits> = HEALTHY_HOST_LIMITS,
  logger: Logger = silentLogger(),
): ProbeSystem {
  const runtime = new Runtime({ logger });
  const registry = new Registry(runtime, { keys: "unique", names: true });
  const hosts = new Hosts(runtime, registry, { limits });
  let supervisor: Promise<Pid> | undefined;
  let probes = 0;
  t.after(async () => {
    await runtime.shutdown();
    await hosts.stop();
  });
  return {
    runtime,
    hosts,
    async start(probeLimits) {
      supervisor ??= DynamicSupervisor.start(runtime, { maxRestarts: 3, period: 5000 });
      const spec = probeSpec(hosts, kind, `probe_${kind}_${++probes}`, "temporary", probeLimits);
      return (await DynamicSupervisor.startChild(runtime, await supervisor, spec)) as Pid;
    },
  };
}
