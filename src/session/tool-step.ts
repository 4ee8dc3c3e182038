import type { LlmToolCall } from "../llm/index.js";
import type { Runtime } from "../runtime/index.js";
import type { ToolOutcome } from "../tools/index.js";
import type { SessionEventInput } from "./events.js";
import type { SessionTools } from "./session-tools.js";

/** Most characters of a result's JSON an event carries; the model sees up to `tools.maxResultChars`. */
export const EVENT_RESULT_CHARS = 4096;

type ToolEvent = Extract<SessionEventInput, { type: "tool_call" | "tool_result" }>;
/** An event of the turn, without the session and turn ids its publisher adds. */
type TurnToolEvent = ToolEvent extends infer E
  ? E extends ToolEvent
    ? Omit<E, "sessionId" | "turnId">
    : never
  : never;

export interface ToolStep {
  calls: readonly LlmToolCall[];
  tools: SessionTools;
  signal: AbortSignal;
  runtime: Runtime;
  maxResultChars: number;
  publish(event: TurnToolEvent): void;
  /** Records one result in the history; its rejection (the turn ended meanwhile) ends the step. */
  record(result: { callId: string; name: string; content: string; isError: boolean }): Promise<unknown>;
}

/**
 * Runs one step's tool calls in parallel, each announced (`tool_call`), run, recorded as soon as
 * it ends (so a crash keeps every completed call and the context manager marks the rest), and
 * announced again with its result (`tool_result`). Resolves when every call is recorded;
 * rejects with the first failure to record (the other calls still end, with the turn's signal).
 */
export async function runToolCalls(step: ToolStep): Promise<void> {
  for (const call of step.calls) {
    step.publish({ type: "tool_call", callId: call.id, name: call.name, input: call.input });
  }
  const runs = step.calls.map(async (call) => {
    const outcome = await step.tools.run(call, step.signal, step.runtime);
    const content = resultText(outcome, step.maxResultChars);
    await step.record({ callId: call.id, name: call.name, content, isError: !outcome.ok });
    step.publish(resultEvent(call, outcome));
  });
  const settled = await Promise.allSettled(runs);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) throw failed.reason;
}

/**
 * What the model reads of an outcome: the result's JSON (a string as it is), or the error as
 * `Error [code]: message` — said in words, since some APIs (OpenAI's) have no error flag on a
 * tool result. Cut at `maxChars` with a marker.
 */
export function resultText(outcome: ToolOutcome, maxChars: number): string {
  const text = outcome.ok
    ? typeof outcome.result === "string"
      ? outcome.result
      : (JSON.stringify(outcome.result) ?? "null")
    : `Error [${outcome.error.code}]: ${outcome.error.message}`;
  if (text.length <= maxChars) return text;
  const cut = text.length - maxChars;
  return `${text.slice(0, maxChars)}\n[… ${cut} more characters truncated]`;
}

function resultEvent(call: LlmToolCall, outcome: ToolOutcome): TurnToolEvent {
  if (!outcome.ok)
    return { type: "tool_result", callId: call.id, name: call.name, ok: false, error: outcome.error };
  const json = JSON.stringify(outcome.result) ?? "null";
  const diff = diffOf(outcome.result);
  return {
    type: "tool_result",
    callId: call.id,
    name: call.name,
    ok: true,
    ...(json.length <= EVENT_RESULT_CHARS ? { result: outcome.result } : { truncated: true }),
    ...(diff === undefined ? {} : { diff }),
  };
}

/** The unified diff of a file change (write_file, edit), if the result is one. */
function diffOf(result: unknown): string | undefined {
  const diff = (result as { diff?: unknown } | null | undefined)?.diff;
  return typeof result === "object" && typeof diff === "string" ? diff : undefined;
}
