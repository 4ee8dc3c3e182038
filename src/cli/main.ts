#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import {
  DEFAULT_DATA_DIR,
  DEFAULT_HOST,
  DEFAULT_PORT,
  runServeCommand,
  runTokenCommand,
  type ServeFlags,
  TOKENS_ENV,
} from "../server/index.js";
import { ChatApp } from "./chat.js";
import { CHAT_PROVIDERS, type ChatFlags, ChatUsageError } from "./chat-flags.js";
import { chatOptions } from "./chat-options.js";
import { TOKEN_ENV } from "./connection.js";
import { registerDoctorCommand } from "./doctor-command.js";
import { registerNodesCommand } from "./nodes-command.js";
import { CliError } from "./output.js";
import { registerSessionsCommand } from "./sessions-command.js";
import { registerTreeCommand } from "./tree-command.js";

/** Once the chat has ended, whatever still holds the event loop (a socket kept alive, say) is not waited for. */
const EXIT_GRACE_MS = 1000;

/** The package's version: its package.json is two levels up from src/cli/main.ts and dist/cli/main.js alike. */
const VERSION = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
).version;

const program = new Command()
  .name("sessionvisor")
  .description("Supervised, isolated LLM coding-assistant sessions on an OTP-style runtime")
  .version(VERSION, "-V, --version", "print the version")
  // Commander's own usage errors (an unknown option, a missing value) exit 2 as ours do.
  .exitOverride();

program
  .command("chat [id]")
  .description(
    "chat with supervised sessions in the terminal (offline model by default: no network); " +
      "[id] starts in that session; --url chats through a running server",
  )
  .option("--url <url>", "a running `sessionvisor serve` to chat through, e.g. http://127.0.0.1:8787")
  .option("--token-file <file>", `the bearer token for --url, read from this file (default: $${TOKEN_ENV})`)
  .option("--delay <ms>", "delay between streamed words of the offline model", "15")
  .option("--store <file>", "keep sessions in this SQLite file; they come back on the next start")
  .option("--provider <name>", `the model's provider: ${CHAT_PROVIDERS.join(", ")} (default offline)`)
  .option("--model <id>", "the model's id at the provider (needed for a remote provider)")
  .option("--base-url <url>", "the provider's address (needed for openai-compatible, e.g. Ollama's)")
  .option("--project <dir>", "give sessions the coding tools over this directory")
  .option(
    "--approve <policy>",
    "tool calls that change things: auto, ask or deny, or write=<policy>,command=<policy> (default write=auto,command=ask)",
  )
  .action(async (id: string | undefined, flags: ChatFlags & { url?: string; tokenFile?: string }) => {
    let app: ChatApp;
    try {
      app = new ChatApp({
        input: process.stdin,
        output: process.stdout,
        ...chatOptions(flags, process.env),
        ...(id === undefined ? {} : { sessionId: id }),
      });
    } catch (error) {
      if (!(error instanceof ChatUsageError || error instanceof CliError)) throw error;
      process.stderr.write(`sessionvisor chat: ${error.message}\n`);
      process.exitCode = error.exitCode;
      return;
    }
    // Ctrl-C reaches the chat as a key on a terminal; as a signal when the input is piped.
    const onSigint = () => app.interrupt();
    process.on("SIGINT", onSigint);
    try {
      await app.run();
    } catch (error) {
      process.stderr.write(`sessionvisor chat: ${firstLine(error)}\n`);
      process.exitCode = 1;
    } finally {
      process.off("SIGINT", onSigint);
      process.stdin.pause();
      setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
    }
  });

program
  .command("serve")
  .description("serve the HTTP API (sessions, turns, events as SSE) over sessions kept in --data-dir")
  .option("--port <port>", "port to listen on (0: any free one)", String(DEFAULT_PORT))
  .option("--host <address>", "address to listen on; any but a loopback one needs tokens", DEFAULT_HOST)
  .option(
    "--data-dir <dir>",
    `directory of the SQLite store (created if missing; default ${DEFAULT_DATA_DIR})`,
  )
  .option(
    "--memory",
    "keep sessions in memory instead: nothing survives the process, no better-sqlite3 needed",
  )
  .option(
    "--tokens <file>",
    `bearer tokens, JSON [{"owner":"alice","sha256":"<hex>"}] (default: $${TOKENS_ENV}; none: loopback only)`,
  )
  .option(
    "--store <url>",
    "keep sessions in PostgreSQL instead (postgres://…, ?schema=NAME, default schema sessionvisor; needs pg)",
  )
  .option(
    "--cluster <nats-url>",
    "join a cluster of nodes on NATS (nats://host:4222, several comma-separated); needs --store",
  )
  .option("--node <id>", "this node's id in the cluster (default <hostname>-<pid>)")
  .option("--prefix <prefix>", "the cluster's subject prefix, the same on every node (default sessionvisor)")
  .option(
    "--log-format <format>",
    "log records on stderr as readable lines (pretty, the default) or pino JSON (json)",
  )
  .option(
    "--dev",
    "development mode: the web observer at / gets buttons to kill processes and hosts (loopback only)",
  )
  .action(async (flags: ServeFlags) => {
    process.exitCode = await runServeCommand(flags, { stdout: process.stdout, stderr: process.stderr });
    setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
  });

program
  .command("token")
  .description("make a bearer token for `serve`: prints the token and the entry for its tokens file")
  .requiredOption("--owner <name>", "whose sessions the token reaches")
  .action((flags: { owner: string }) => {
    process.exitCode = runTokenCommand(flags, { stdout: process.stdout, stderr: process.stderr });
  });

/** A command's exit code; whatever still holds the event loop after it is not waited for. */
const exitWith = (code: number) => {
  process.exitCode = code;
  setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
};
registerSessionsCommand(program, VERSION, exitWith);
registerTreeCommand(program, VERSION, exitWith);
registerDoctorCommand(program, VERSION, exitWith);
registerNodesCommand(program, VERSION, exitWith);

try {
  await program.parseAsync();
} catch (error) {
  if (!(error instanceof CommanderError)) throw error;
  // Commander has printed its message; --help and --version end with 0.
  process.exitCode = error.exitCode === 0 ? 0 : 2;
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0] ?? message;
}
