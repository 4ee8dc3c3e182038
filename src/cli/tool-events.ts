/**
 * The events of a session's tool loop and turn control, as the chat reads them. They are picked
 * out of the session's event stream by their `type`, and each field is checked before use, so a
 * field the chat does not know (or a missing optional one) never breaks a reply on screen.
 */
export type ChatToolEvent =
  | { type: "tool_call"; sessionId: string; turnId: string; callId: string; name: string; input: unknown }
  | {
      type: "tool_result";
      sessionId: string;
      turnId: string;
      callId: string;
      name: string;
      ok: boolean;
      result?: unknown;
      error?: { code: string; message: string };
      /** A unified diff, for write_file and edit. */
      diff?: string;
      /** The result was too large to put in the event, so it is left out. */
      truncated?: boolean;
    }
  | {
      type: "tool_approval_requested";
      sessionId: string;
      turnId: string;
      callId: string;
      name: string;
      kind: string;
      input: unknown;
      timeoutMs: number;
    }
  | {
      type: "tool_approval_decided";
      sessionId: string;
      callId: string;
      name: string;
      approved: boolean;
      /** `timeout`: nobody answered in time, so the call was denied. */
      by: string;
    }
  | { type: "turn_cancelled"; sessionId: string; turnId: string | undefined };

const TYPES = new Set([
  "tool_call",
  "tool_result",
  "tool_approval_requested",
  "tool_approval_decided",
  "turn_cancelled",
]);

/** The event as a ChatToolEvent, or undefined when it is none (or lacks what the chat shows). */
export function toolEvent(event: { type: string }): ChatToolEvent | undefined {
  if (!TYPES.has(event.type)) return undefined;
  const e = event as Record<string, unknown>;
  const sessionId = text(e.sessionId);
  if (sessionId === undefined) return undefined;
  if (event.type === "turn_cancelled") {
    const turn = e.turn as Record<string, unknown> | undefined;
    return { type: "turn_cancelled", sessionId, turnId: text(e.turnId) ?? text(turn?.id) };
  }
  const turnId = text(e.turnId) ?? "";
  const callId = text(e.callId);
  const name = text(e.name);
  if (callId === undefined || name === undefined) return undefined;
  switch (event.type) {
    case "tool_call":
      return { type: "tool_call", sessionId, turnId, callId, name, input: e.input };
    case "tool_approval_requested":
      return {
        type: "tool_approval_requested",
        sessionId,
        turnId,
        callId,
        name,
        kind: text(e.kind) ?? "",
        input: e.input,
        timeoutMs: typeof e.timeoutMs === "number" ? e.timeoutMs : 0,
      };
    case "tool_approval_decided":
      return {
        type: "tool_approval_decided",
        sessionId,
        callId,
        name,
        approved: e.approved === true,
        by: text(e.by) ?? "",
      };
    default: {
      const result: ChatToolEvent = {
        type: "tool_result",
        sessionId,
        turnId,
        callId,
        name,
        ok: e.ok === true,
      };
      if ("result" in e) result.result = e.result;
      const error = e.error as Record<string, unknown> | undefined;
      if (error && typeof error === "object")
        result.error = { code: text(error.code) ?? "", message: text(error.message) ?? "" };
      const diff = text(e.diff);
      if (diff) result.diff = diff;
      if (e.truncated === true) result.truncated = true;
      return result;
    }
  }
}

function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}
