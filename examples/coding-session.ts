import { SessionSystem } from "../src/index.js";

const system = await SessionSystem.start();
const session = await system.createSession({ projectPath: process.cwd() });
for await (const part of system.stream(session.id, "tool read_file README.md")) {
  if (part.type === "tool_call") console.log("→", part.name, part.input);
  if (part.type === "text") process.stdout.write(part.text);
}
await system.stop();
