// The web observer's SSE reader (web/src/sse-parser.ts): the page reads streams with fetch, so
// that its token goes in a header, and splits them into events itself.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatSseEvent } from "../src/server/sse.js";
import { SseParser } from "../web/src/sse-parser.js";

describe("SseParser", () => {
  it("reads what the server's SSE writer writes, split into chunks at every possible place", () => {
    const text =
      ": stream open\n\n" +
      formatSseEvent({ event: "snapshot", data: { a: "x\ny", b: [1, 2] } }) +
      ": ping\n\n" +
      formatSseEvent({ event: "session_status", id: 7, data: { status: "active" } });
    for (let cut = 0; cut <= text.length; cut++) {
      const parser = new SseParser();
      const messages = [...parser.push(text.slice(0, cut)), ...parser.push(text.slice(cut))];
      assert.deepEqual(
        messages.map((m) => ({ ...m, data: JSON.parse(m.data) })),
        [
          { event: "snapshot", data: { a: "x\ny", b: [1, 2] }, id: undefined },
          { event: "session_status", data: { status: "active" }, id: "7" },
        ],
        `cut at ${cut}`,
      );
    }
  });

  it("joins data lines, takes CRLF and CR line ends, and names an unnamed event message", () => {
    const parser = new SseParser();
    const messages = parser.push("data: one\r\ndata: two\r\n\r\nevent: x\rdata:three\r\r");
    assert.deepEqual(messages, [
      { event: "message", data: "one\ntwo", id: undefined },
      { event: "x", data: "three", id: undefined },
    ]);
  });

  it("takes a CRLF split between two chunks as one line end", () => {
    const parser = new SseParser();
    assert.deepEqual(parser.push("data: a\r\n\r"), [{ event: "message", data: "a", id: undefined }]);
    assert.deepEqual(parser.push("\ndata: b\n\n"), [{ event: "message", data: "b", id: undefined }]);
  });

  it("keeps the last id for the events after it, as Last-Event-ID would resume", () => {
    const parser = new SseParser();
    const messages = parser.push("id: 3\ndata: 1\n\ndata: 2\n\n");
    assert.deepEqual(
      messages.map((m) => m.id),
      ["3", "3"],
    );
  });
});
