#!/usr/bin/env node
import { Command, InvalidArgumentError } from "commander";
import { ChatApp } from "./chat.js";

const program = new Command()
  .name("sessionvisor")
  .description("Supervised, isolated LLM coding-assistant sessions on an OTP-style runtime");

program
  .command("chat")
  .description("chat with supervised sessions in the terminal (offline model, no network)")
  .option(
    "--delay <ms>",
    "delay between streamed words",
    (value) => {
      const ms = Number(value);
      if (!Number.isInteger(ms) || ms < 0) throw new InvalidArgumentError("must be a whole number of ms");
      return ms;
    },
    15,
  )
  .option("--store <file>", "keep sessions in this SQLite file; they come back on the next start")
  .action(async (options: { delay: number; store?: string }) => {
    await new ChatApp({
      input: process.stdin,
      output: process.stdout,
      streamDelayMs: options.delay,
      ...(options.store ? { storePath: options.store } : {}),
    }).run();
  });

await program.parseAsync();
