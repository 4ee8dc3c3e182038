import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatSseEvent, type SseWriter, sseResponse } from "./sse.js";

function open(options: { maxQueued?: number; signal?: AbortSignal } = {}) {
  let writer: SseWriter | undefined;
  let closes = 0;
  const response = sseResponse({
    signal: options.signal ?? new AbortController().signal,
    heartbeatMs: 60_000,
    maxQueued: options.maxQueued ?? 100,
    start: (w) => {
      writer = w;
      w.onClose(() => closes++);
    },
  });
  return { response, writer: () => writer as SseWriter, closes: () => closes };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("SSE responses", () => {
  it("formats an event with its name, id and one line of JSON data", () => {
    assert.equal(
      formatSseEvent({ event: "text", id: 7, data: { text: "a\nb" } }),
      'event: text\nid: 7\ndata: {"text":"a\\nb"}\n\n',
    );
    assert.equal(formatSseEvent({ event: "x\ny", data: null }), "event: x y\ndata: null\n\n");
  });

  it("shows an error in the data by its name, code and message", () => {
    const error = Object.assign(new Error("boom"), { code: "some_code" });
    assert.equal(
      formatSseEvent({ data: { reason: error } }),
      'data: {"reason":{"name":"Error","message":"boom","code":"some_code"}}\n\n',
    );
  });

  it("ends a stream whose client does not read, telling it so, once maxQueued events wait", async () => {
    const { response, writer, closes } = open({ maxQueued: 5 });
    await tick();
    let sent = 0;
    while (writer().send({ event: "n", id: sent, data: sent })) sent++;
    assert.ok(sent >= 5 && sent <= 8, `sent ${sent}`);
    assert.equal(writer().closed, true);
    assert.equal(closes(), 1);
    const text = await response.text();
    assert.match(text, /event: error\ndata: \{"error":\{"code":"too_slow"/);
  });

  it("runs the close callbacks once when the client cancels the body", async () => {
    const { response, writer, closes } = open();
    await tick();
    await response.body?.cancel();
    assert.equal(writer().closed, true);
    writer().close();
    assert.equal(closes(), 1);
    assert.equal(writer().send({ data: 1 }), false);
  });

  it("runs the close callbacks when the request's signal aborts, even before it started", async () => {
    const controller = new AbortController();
    controller.abort();
    const { writer, closes } = open({ signal: controller.signal });
    await tick();
    assert.equal(writer().closed, true);
    assert.equal(closes(), 1);
  });
});
