import { z } from "zod";
import { InvalidArgumentError } from "../errors.js";
import type { LlmToolDefinition } from "../llm/index.js";
import type { ApprovalDecision, ToolCallRequest } from "./approval.js";
import type { ToolContext } from "./context.js";
import {
  InvalidToolInputError,
  ToolAbortedError,
  ToolDeniedError,
  ToolError,
  UnknownToolError,
} from "./errors.js";
import type { AnyTool } from "./tool.js";

/** A tool as a model is told about it: the LLM port's own shape. */
export type ToolDefinition = LlmToolDefinition;

/** A call as a model makes it. */
export interface ToolCall {
  id?: string;
  name: string;
  input: unknown;
}

/** The end of a call, as the model is shown it. */
export type ToolOutcome =
  | { ok: true; result: unknown }
  | { ok: false; error: { code: string; message: string } };

/** The tools a session offers, by name: their definitions for the model, and calls checked and run. */
export class ToolSet {
  readonly #tools = new Map<string, AnyTool>();

  constructor(tools: Iterable<AnyTool>) {
    for (const tool of tools) {
      if (this.#tools.has(tool.name))
        throw new InvalidArgumentError("tools", `two tools are named ${tool.name}`);
      this.#tools.set(tool.name, tool);
    }
  }

  get names(): string[] {
    return [...this.#tools.keys()];
  }

  get(name: string): AnyTool | undefined {
    return this.#tools.get(name);
  }

  /** Name, description and JSON Schema of each tool, in the order given. */
  definitions(): ToolDefinition[] {
    return [...this.#tools.values()].map(definitionOf);
  }

  /** A set of only the named tools, in the order named (a session's configured tool list). */
  select(names: Iterable<string>): ToolSet {
    return new ToolSet(
      [...names].map((name) => {
        const tool = this.#tools.get(name);
        if (tool === undefined) throw new UnknownToolError(name, this.names);
        return tool;
      }),
    );
  }

  /**
   * Runs a call: the tool found by name, its input validated (a bad field named), the approval
   * policy applied for writes and commands, then the tool itself. Throws ToolError for anything
   * the model should be told; any other error is a fault of ours and propagates.
   */
  async execute(call: ToolCall, context: ToolContext): Promise<unknown> {
    const tool = this.#tools.get(call.name);
    if (tool === undefined) throw new UnknownToolError(call.name, this.names);
    const parsed = tool.input.safeParse(call.input ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const path = issue.path.map(String);
      if (issue.code === "unrecognized_keys") path.push(issue.keys[0] ?? "");
      throw new InvalidToolInputError(tool.name, path.join(".") || "input", issue.message);
    }
    if (context.signal.aborted) throw new ToolAbortedError(tool.name, context.signal.reason);
    if (tool.kind !== "read") {
      await approveCall(
        {
          ...(call.id === undefined ? {} : { id: call.id }),
          tool: tool.name,
          kind: tool.kind,
          input: parsed.data,
        },
        context,
      );
    }
    if (context.signal.aborted) throw new ToolAbortedError(tool.name, context.signal.reason);
    return tool.execute(parsed.data, context);
  }

  /** Like execute, with a ToolError turned into an outcome the model can be sent. */
  async run(call: ToolCall, context: ToolContext): Promise<ToolOutcome> {
    try {
      return { ok: true, result: await this.execute(call, context) };
    } catch (error) {
      if (error instanceof ToolError)
        return { ok: false, error: { code: error.code, message: error.message } };
      throw error;
    }
  }
}

// A tool's schema does not change; its JSON Schema is worked out once.
const definitions = new WeakMap<AnyTool, ToolDefinition>();

function definitionOf(tool: AnyTool): ToolDefinition {
  let definition = definitions.get(tool);
  if (definition === undefined) {
    const { $schema: _schema, ...inputSchema } = z.toJSONSchema(tool.input, { io: "input" }) as Record<
      string,
      unknown
    >;
    definition = { name: tool.name, description: tool.description, inputSchema };
    definitions.set(tool, definition);
  }
  return structuredClone(definition);
}

async function approveCall(call: ToolCallRequest, context: ToolContext): Promise<void> {
  const kind = call.kind === "write" ? "write" : "command";
  const policy = context.approval[kind];
  if (policy === "auto") return;
  const what = kind === "write" ? "file changes" : "commands";
  if (policy === "deny") throw new ToolDeniedError(call.tool, `this session's policy denies ${what}`);
  if (context.approve === undefined) {
    throw new ToolDeniedError(call.tool, `${what} need approval here and there is no one to ask`);
  }
  const decision = await untilAborted(context.approve(call, context.signal), context.signal, call.tool);
  const { approved, reason }: ApprovalDecision =
    typeof decision === "boolean" ? { approved: decision } : decision;
  if (!approved) throw new ToolDeniedError(call.tool, reason ?? "the user denied it");
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal, tool: string): Promise<T> {
  if (signal.aborted) return Promise.reject(new ToolAbortedError(tool, signal.reason));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new ToolAbortedError(tool, signal.reason));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
