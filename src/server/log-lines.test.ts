import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../errors.js";
import { commandLogger, parseLogFormat, prettyLine } from "./log-lines.js";

function capture(isTTY = false) {
  const lines: string[] = [];
  return { lines, out: { isTTY, write: (text: string) => lines.push(text) } };
}

describe("the command line's log lines", () => {
  it("pretty: a record is one line with its time, level, message and fields", () => {
    const { lines, out } = capture();
    commandLogger("pretty", "info", out).warn({ sessionId: "s1", restarts: 3 }, "session restarted");
    assert.equal(lines.length, 1);
    assert.match(lines[0] as string, /^\d\d:\d\d:\d\d WARN {2}session restarted sessionId=s1 restarts=3\n$/);
  });

  it("pretty: an error shows its type and message on the line and its stack below", () => {
    const { lines, out } = capture();
    commandLogger("pretty", "info", out).error({ err: new TypeError("bad thing") }, "crash");
    assert.match(lines[0] as string, /ERROR crash err="TypeError: bad thing"\n {4}at /);
  });

  it("pretty: colours the level only on a TTY", () => {
    const plain = capture(false);
    const tty = capture(true);
    commandLogger("pretty", "info", plain.out).error({}, "x");
    commandLogger("pretty", "info", tty.out).error({}, "x");
    assert.ok(!(plain.lines[0] as string).includes("\x1b["));
    assert.ok((tty.lines[0] as string).includes("\x1b[31mERROR\x1b[0m"));
  });

  it("json: a record is pino's JSON line, fields and message kept", () => {
    const { lines, out } = capture();
    commandLogger("json", "info", out).warn({ sessionId: "s1" }, "session restarted");
    const record = JSON.parse(lines[0] as string);
    assert.equal(record.level, 40);
    assert.equal(record.msg, "session restarted");
    assert.equal(record.sessionId, "s1");
    assert.equal(record.name, "sessionvisor");
  });

  it("writes nothing below its level", () => {
    const { lines, out } = capture();
    const logger = commandLogger("pretty", "warn", out);
    logger.info({}, "not shown");
    logger.warn({}, "shown");
    assert.equal(lines.length, 1);
  });

  it("a line that is not a pino record is passed on unchanged", () => {
    assert.equal(prettyLine("not json"), "not json\n");
  });

  it("--log-format is pretty by default, takes json, and names itself when wrong", () => {
    assert.equal(parseLogFormat(undefined), "pretty");
    assert.equal(parseLogFormat("json"), "json");
    assert.throws(
      () => parseLogFormat("xml"),
      (error: unknown) => {
        assert.ok(error instanceof InvalidArgumentError);
        assert.match(error.message, /--log-format/);
        return true;
      },
    );
  });
});
