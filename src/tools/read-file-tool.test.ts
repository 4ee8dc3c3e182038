import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { type ProjectFixture, projectFixture } from "../../test/support/project-fixture.js";
import { builtinToolSet, type ReadFileResult } from "../index.js";

const tools = builtinToolSet();

describe("read_file", () => {
  let fx: ProjectFixture;
  beforeEach(async () => {
    fx = await projectFixture({ "lines.txt": "one\ntwo\nthree\nfour\n", "crlf.txt": "a\r\nb\r\n" });
  });
  afterEach(() => fx.remove());

  const read = (input: unknown, context = fx.context()) =>
    tools.execute({ name: "read_file", input }, context) as Promise<ReadFileResult>;

  it("returns a whole file exactly, with its line count", async () => {
    const result = await read({ path: "lines.txt" });
    assert.deepEqual(result, {
      path: "lines.txt",
      content: "one\ntwo\nthree\nfour\n",
      startLine: 1,
      endLine: 4,
      totalLines: 4,
      size: 19,
      truncated: false,
    });
  });

  it("returns a range of lines, inclusive", async () => {
    const result = await read({ path: "lines.txt", startLine: 2, endLine: 3 });
    assert.deepEqual([result.content, result.startLine, result.endLine], ["two\nthree\n", 2, 3]);
  });

  it("keeps CRLF line endings as they are", async () => {
    assert.equal((await read({ path: "crlf.txt", startLine: 2 })).content, "b\r\n");
  });

  it("stops a range at the end of the file", async () => {
    const result = await read({ path: "lines.txt", startLine: 4, endLine: 99 });
    assert.deepEqual([result.content, result.endLine], ["four\n", 4]);
  });

  it("refuses a startLine past the end, saying how many lines there are", async () => {
    await assert.rejects(read({ path: "lines.txt", startLine: 9 }), /startLine 9 is past the end.*4 lines/);
  });

  it("cuts at the byte cap on a line boundary and says where to continue", async () => {
    fx.write("long.txt", Array.from({ length: 100 }, (_, i) => `line ${i + 1}\n`).join(""));
    const result = await read({ path: "long.txt" }, fx.context({ limits: { maxReadBytes: 40 } }));
    assert.equal(result.truncated, true);
    assert.equal(result.endLine, 5);
    assert.match(
      result.content,
      /^line 1\n[\s\S]*line 5\n\[truncated: lines 1-5 of 100 lines shown; continue with startLine 6\]$/,
    );
  });

  it("reads the start of a file too large to read whole, and says so", async () => {
    fx.write("huge.txt", "y\n".repeat(5000));
    const context = fx.context({ limits: { maxEditableBytes: 1000, maxReadBytes: 100_000 } });
    const result = await read({ path: "huge.txt" }, context);
    assert.equal(result.totalLines, undefined);
    assert.match(result.content, /\[truncated: .*the first 1000 of 10000 bytes/);
  });

  it("reports a binary file instead of its bytes", async () => {
    fx.write("blob.bin", Buffer.from([1, 2, 0, 3]));
    const result = await read({ path: "blob.bin" });
    assert.deepEqual([result.binary, result.content, result.size], [true, "", 4]);
  });
});
