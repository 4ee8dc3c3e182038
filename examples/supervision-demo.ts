// The main job for now: start a small supervision tree, crash its children in different ways,
// and watch the supervisors bring them back, OTP style. `npm start` runs it.
import {
  DynamicSupervisor,
  GenServer,
  type Pid,
  Runtime,
  Supervisor,
  type SupervisorEvent,
  silentLogger,
  worker,
} from "../src/index.js";

class Worker extends GenServer<"work" | "crash" | "reject", string, never, never, string> {
  private name = "";
  private jobs = 0;

  override init(name: string): void {
    this.name = name;
  }

  override async handleCall(message: "work" | "crash" | "reject"): Promise<string> {
    if (message === "crash") throw new Error(`${this.name} threw`);
    if (message === "reject") return Promise.reject(new Error(`${this.name} rejected a promise`));
    this.jobs++;
    return `${this.name} did job ${this.jobs}`;
  }
}

function describe(event: SupervisorEvent): string | undefined {
  switch (event.type) {
    case "child_exited":
      return `  ${event.childId} ${event.pid} exited (${event.reason instanceof Error ? event.reason.message : String(event.reason)})${event.restarting ? ", restarting" : ""}`;
    case "child_restarted":
      return `  ${event.childId} restarted as ${event.pid}`;
    case "child_given_up":
      return `  ${event.childId} used up its own restart budget and was removed`;
    case "intensity_exceeded":
      return `  supervisor ${event.supervisor} exceeded ${event.maxRestarts} restarts in ${event.period} ms: giving up`;
    default:
      return undefined;
  }
}

const runtime = new Runtime({ node: "demo", logger: silentLogger() });
const onEvent = (event: SupervisorEvent) => {
  const line = describe(event);
  if (line) console.log(line);
};

const root = await Supervisor.start(runtime, {
  strategy: "one_for_one",
  onEvent,
  children: [
    worker("parser", () => new Worker(), { args: "parser" }),
    worker("indexer", () => new Worker(), { args: "indexer" }),
    DynamicSupervisor.childSpec("sessions", {
      childRestartBudget: { maxRestarts: 2, period: 5000 },
      onEvent,
    }),
  ],
});

async function child(sup: Pid, id: string): Promise<Pid> {
  const found = (await Supervisor.whichChildren(runtime, sup)).find((c) => c.id === id);
  if (!found?.pid) throw new Error(`${id} is not running`);
  return found.pid;
}

console.log(`started tree under ${root}:`);
for (const c of await Supervisor.whichChildren(runtime, root)) console.log(`  ${c.id} ${c.pid}`);

console.log("\n1. parser throws; only parser is restarted (one_for_one):");
await runtime.call(await child(root, "parser"), "crash").catch(() => {});
console.log(
  `  indexer still ${await child(root, "indexer")}: ${await runtime.call(await child(root, "indexer"), "work")}`,
);

console.log("\n2. indexer rejects a promise; same story, nothing else notices:");
await runtime.call(await child(root, "indexer"), "reject").catch(() => {});
console.log(`  ${await runtime.call(await child(root, "parser"), "work")}`);

console.log("\n3. a session under the DynamicSupervisor is killed (untrappable kill):");
const sessions = await child(root, "sessions");
const s1 = await DynamicSupervisor.startChild(
  runtime,
  sessions,
  worker("session-1", () => new Worker(), { args: "session-1" }),
);
const s2 = await DynamicSupervisor.startChild(
  runtime,
  sessions,
  worker("session-2", () => new Worker(), { args: "session-2" }),
);
runtime.exit(s1 as Pid, "kill");
await DynamicSupervisor.whichChildren(runtime, sessions);
console.log(`  session-2 untouched at ${s2}: ${await runtime.call(s2 as Pid, "work")}`);

console.log("\n4. session-2 flaps; its own budget runs out, the others keep going:");
for (let i = 0; i < 3; i++) {
  const current = (await DynamicSupervisor.whichChildren(runtime, sessions)).find(
    (c) => c.id === "session-2",
  );
  if (!current?.pid) break;
  await runtime.call(current.pid, "crash").catch(() => {});
  await DynamicSupervisor.whichChildren(runtime, sessions);
}
const left = await DynamicSupervisor.whichChildren(runtime, sessions);
console.log(`  sessions still running: ${left.map((c) => c.id).join(", ")}`);

await runtime.shutdown();
console.log("\nshut down cleanly.");
