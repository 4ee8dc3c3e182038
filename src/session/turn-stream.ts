import type { Subscription } from "../registry/index.js";
import type { SessionEvent } from "./events.js";
import type { TurnReply } from "./llm-orchestrator.js";

/** What `SessionSystem.stream` yields, in order, for one message's turn. */
export type TurnPart =
  | { type: "turn_started"; turnId: string }
  | { type: "text"; text: string }
  | { type: "tool_call"; callId: string; name: string; input: unknown }
  | Omit<Extract<SessionEvent, { type: "tool_result" }>, "sessionId" | "turnId" | "seq">
  | Omit<Extract<SessionEvent, { type: "tool_approval_requested" }>, "sessionId" | "turnId" | "seq">
  /** The last part: the turn's reply, as `sendMessage` resolves with it. */
  | { type: "done"; reply: TurnReply };

export interface TurnStreamSource {
  /** Subscribes to the session's live events (before the message is sent, so nothing is missed). */
  subscribe(listener: (event: SessionEvent) => void): Promise<Subscription>;
  unsubscribe(subscription: Subscription): void;
  /** Sends the message with this request id and signal; resolves with the turn's reply. */
  send(requestId: string, signal: AbortSignal): Promise<TurnReply>;
}

/**
 * One message's turn as an async iterator: its events, picked from the session's by the
 * request id its `turn_started` carries, then `done`. A failed turn throws from the iterator.
 * Leaving the loop early (`break`, `return`, a throw in its body) cancels the turn.
 */
export function streamTurn(
  source: TurnStreamSource,
  requestId: string,
  callerSignal: AbortSignal | undefined,
): AsyncIterableIterator<TurnPart> {
  const controller = new AbortController();
  const onCallerAbort = () => controller.abort(callerSignal?.reason);
  if (callerSignal?.aborted) controller.abort(callerSignal.reason);
  else callerSignal?.addEventListener("abort", onCallerAbort, { once: true });

  const parts: TurnPart[] = [];
  let failure: { error: unknown } | undefined;
  let finished = false;
  let wake: (() => void) | undefined;
  let turnId: string | undefined;
  const push = (part: TurnPart) => {
    parts.push(part);
    wake?.();
  };

  const onEvent = (event: SessionEvent) => {
    if (event.type === "turn_started") {
      if (event.requestId === requestId && turnId === undefined) {
        turnId = event.turnId;
        push({ type: "turn_started", turnId });
      }
      return;
    }
    if (turnId === undefined || !("turnId" in event) || event.turnId !== turnId) return;
    switch (event.type) {
      case "llm_delta":
        push({ type: "text", text: event.text });
        return;
      case "tool_call":
        push({ type: "tool_call", callId: event.callId, name: event.name, input: event.input });
        return;
      case "tool_result":
      case "tool_approval_requested": {
        const { sessionId: _s, turnId: _t, seq: _q, ...part } = event;
        push(part as TurnPart);
        return;
      }
    }
  };

  let subscription: Subscription | undefined;
  const done = (async () => {
    try {
      subscription = await source.subscribe(onEvent);
      const reply = await source.send(requestId, controller.signal);
      push({ type: "done", reply });
    } catch (error) {
      failure = { error };
    } finally {
      finished = true;
      if (subscription) source.unsubscribe(subscription);
      callerSignal?.removeEventListener("abort", onCallerAbort);
      wake?.();
    }
  })();

  const iterator: AsyncIterableIterator<TurnPart> = {
    [Symbol.asyncIterator]() {
      return iterator;
    },
    async next(): Promise<IteratorResult<TurnPart>> {
      for (;;) {
        const part = parts.shift();
        if (part) return { done: false, value: part };
        if (finished) {
          if (failure) {
            const { error } = failure;
            failure = undefined;
            throw error;
          }
          return { done: true, value: undefined };
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    },
    async return(): Promise<IteratorResult<TurnPart>> {
      if (!finished) controller.abort(new Error("the stream's reader left it"));
      // The turn's ending is recorded before the loop goes on; its error is the reader's choice.
      await done;
      parts.length = 0;
      failure = undefined;
      return { done: true, value: undefined };
    },
  };
  return iterator;
}
