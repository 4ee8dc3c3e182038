import { GenServer, Runtime, Supervisor, worker } from "../src/index.js";

// A counter process: state lives on `this`, one message at a time.
class Counter extends GenServer<"inc" | "boom", number> {
  private count = 0;

  override handleCall(message: "inc" | "boom"): number {
    if (message === "boom") throw new Error("counter exploded");
    return ++this.count;
  }
}

const runtime = new Runtime();
const sup = await Supervisor.start(runtime, {
  strategy: "one_for_one",
  children: [worker("counter", () => new Counter())],
});

const [before] = await Supervisor.whichChildren(runtime, sup);
console.log("counter:", await runtime.call(before!.pid!, "inc")); // 1

// The crash ends only that process; its supervisor starts a fresh one.
await runtime.call(before!.pid!, "boom").catch((error) => console.log("call failed:", error.message));
const [after] = await Supervisor.whichChildren(runtime, sup);
console.log(`restarted: ${before!.pid} -> ${after!.pid}`);
console.log("counter:", await runtime.call(after!.pid!, "inc")); // 1 again: fresh state

await runtime.shutdown();
