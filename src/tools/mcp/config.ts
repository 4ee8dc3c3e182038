import { z } from "zod";
import { InvalidArgumentError } from "../../errors.js";

/**
 * A server name: it prefixes the server's tool names (`<server>__<tool>`), so it is short,
 * made of what model APIs accept in a tool name, and has no `__` of its own.
 */
const NAME = /^[A-Za-z0-9][A-Za-z0-9-]*(_[A-Za-z0-9-]+)*$/;

const positiveMs = z.number().int().positive();

/** One MCP server a session attaches: a command run over stdio, or a streamable HTTP URL. */
export const mcpServerConfigSchema = z
  .strictObject({
    name: z
      .string()
      .max(32)
      .regex(NAME, "must be letters, digits, - and single _ (no __), starting with a letter or digit"),
    /** The program to run (stdio); looked up on PATH. */
    command: z.string().min(1).optional(),
    args: z.array(z.string()).default([]),
    /** Added to the scrubbed environment (given on purpose, so not scrubbed: e.g. a token the server needs). */
    env: z.record(z.string(), z.string()).default({}),
    /** The directory the command runs in (absolute). */
    cwd: z
      .string()
      .refine((path) => path.startsWith("/"), "must be an absolute path")
      .optional(),
    /** A streamable HTTP endpoint (http or https). */
    url: z.url({ protocol: /^https?$/ }).optional(),
    headers: z.record(z.string(), z.string()).default({}),
    /** Connect, handshake and list tools within this (default 10 s). */
    startTimeoutMs: positiveMs.default(10_000),
    /** A call's timeout unless the call asks for less (default 60 s). */
    callTimeoutMs: positiveMs.default(60_000),
    /** After a call times out the server must answer a ping within this, else it is restarted as hung (default 5 s). */
    pingTimeoutMs: positiveMs.default(5_000),
    /** `permanent` (default): restarted whenever it stops; `transient`: only when it stops abnormally. */
    restart: z.enum(["permanent", "transient"]).default("permanent"),
    /** More than `maxRestarts` restarts in `periodMs` and the server is given up (the session stays). */
    maxRestarts: z.number().int().min(0).default(3),
    periodMs: positiveMs.default(60_000),
    /** How the approval policy treats its tools (default `command`: an MCP tool may do anything). */
    kind: z.enum(["read", "write", "command"]).default("command"),
    /** Text results longer than this are cut with a marker (default 256 KiB). */
    maxOutputBytes: positiveMs.default(256 * 1024),
  })
  .superRefine((config, context) => {
    if ((config.command === undefined) === (config.url === undefined)) {
      context.addIssue({
        code: "custom",
        path: [config.command === undefined ? "command" : "url"],
        message: "give either command (stdio) or url (streamable HTTP), not both",
      });
    }
    if (config.url !== undefined) {
      for (const field of ["args", "env", "cwd"] as const) {
        const value = config[field];
        if (
          value !== undefined &&
          (Array.isArray(value) ? value.length > 0 : Object.keys(value).length > 0)
        ) {
          context.addIssue({ code: "custom", path: [field], message: "applies only to a command server" });
        }
      }
    }
  });

export type McpServerConfigInput = z.input<typeof mcpServerConfigSchema>;
export type McpServerConfig = z.output<typeof mcpServerConfigSchema>;

/** Validates a server's configuration; a bad field is named (`mcp.<field>`) in an InvalidArgumentError. */
export function parseMcpServerConfig(input: unknown): McpServerConfig {
  const parsed = mcpServerConfigSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = issue.path.map(String);
  if (issue.code === "unrecognized_keys") path.push(issue.keys[0] ?? "");
  const name =
    typeof input === "object" && input !== null && typeof (input as { name?: unknown }).name === "string"
      ? `mcp server ${JSON.stringify((input as { name: string }).name)} `
      : "mcp server ";
  throw new InvalidArgumentError(`${name}${path.join(".") || "config"}`, issue.message);
}

/** The name a tool of this server has in a session's tool set. */
export function prefixedToolName(server: string, tool: string): string {
  return `${server}__${tool}`;
}
