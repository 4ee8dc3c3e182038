import type { z } from "zod";
import type { ToolKind } from "./approval.js";
import type { ToolContext } from "./context.js";

/**
 * A tool a model can call: what it is called and told, the schema its input must satisfy, the
 * kind of call it is (for the approval policy), and what it does. `execute` gets validated input
 * and returns JSON-able data, or throws a ToolError whose message the model reads.
 */
export interface Tool<Input = unknown, Result = unknown> {
  readonly name: string;
  readonly description: string;
  readonly kind: ToolKind;
  readonly input: z.ZodType<Input>;
  execute(input: Input, context: ToolContext): Promise<Result>;
}

/** A tool of any input; what a ToolSet holds. */
// biome-ignore lint/suspicious/noExplicitAny: a set holds tools of different inputs, each checked by its own schema.
export type AnyTool = Tool<any, unknown>;

/** Defines a tool with its input type taken from its schema. */
export function defineTool<Schema extends z.ZodType, Result>(tool: {
  name: string;
  description: string;
  kind: ToolKind;
  input: Schema;
  execute(input: z.output<Schema>, context: ToolContext): Promise<Result>;
}): Tool<z.output<Schema>, Result> {
  return tool as Tool<z.output<Schema>, Result>;
}
