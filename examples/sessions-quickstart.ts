import { SessionSystem } from "../src/index.js";

const system = await SessionSystem.start();
system.subscribeAll((event) => {
  if (event.type === "session_status") console.log(`  ${event.previousStatus} -> ${event.status}`);
});

const session = await system.createSession({
  name: "refactor",
  llm: { provider: "offline", temperature: 0.2 },
});
await system.addFile(session.id, "/repo/src/app.ts", { metadata: { language: "ts" } });
const reply = await system.sendMessage(session.id, "echo hello from the session");
console.log("reply:", reply.text);

// Kill the session's supervisor: it comes back with the same id and its conversation.
const back = new Promise((resolve) =>
  system.subscribe(session.id, (event) => {
    if (event.type === "session_status" && event.status === "active") resolve(event);
  }),
);
system.runtime.exit(system.findSupervisor(session.id)!, "kill");
await back;
console.log("history after the kill:", (await system.getHistory(session.id)).length, "turns");

await system.terminateSession(session.id);
await system.stop();
