// The chat's event stream ends when the chat closes, whatever the response body does with the
// request's abort.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ApiClient } from "./api-client.js";
import { RemoteChatBackend } from "./chat-remote.js";

/** An event stream that sends one event, then neither ends nor errors, deaf to any abort. */
function deafEventStream(): { response: Response; cancelled: Promise<void> } {
  let onCancel: () => void = () => {};
  const cancelled = new Promise<void>((resolve) => {
    onCancel = resolve;
  });
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const event = { type: "session_terminated", sessionId: "s1", at: "2026-12-04T00:00:00.000Z", seq: 1 };
      controller.enqueue(new TextEncoder().encode(`id: 1\ndata: ${JSON.stringify(event)}\n\n`));
    },
    cancel: () => onCancel(),
  });
  return { response: new Response(body, { headers: { "content-type": "text/event-stream" } }), cancelled };
}

describe("RemoteChatBackend", () => {
  it("closes while the event stream's body ignores the abort, and cancels that body", {
    timeout: 10_000,
  }, async () => {
    const stream = deafEventStream();
    const client = new ApiClient("http://127.0.0.1:9", () => stream.response, undefined);
    const backend = new RemoteChatBackend(client, () => {});
    const heard: string[] = [];
    let first: () => void = () => {};
    const firstHeard = new Promise<void>((resolve) => {
      first = resolve;
    });
    await backend.open((event) => {
      heard.push(event.type);
      first();
    });
    await firstHeard;
    await backend.close();
    await stream.cancelled;
    assert.deepEqual(heard, ["session_terminated"]);
  });
});
