import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { afterEach, beforeEach, describe, it } from "node:test";
import { type ProjectFixture, projectFixture } from "../../test/support/project-fixture.js";
import {
  builtinToolSet,
  EditMatchError,
  type FileChange,
  ReadBeforeWriteError,
  type ToolContext,
} from "../index.js";

const tools = builtinToolSet();

describe("write_file and edit", () => {
  let fx: ProjectFixture;
  let context: ToolContext;
  beforeEach(async () => {
    fx = await projectFixture({ "a.ts": "const a = 1;\nconst b = 2;\n", "twice.ts": "x();\nx();\n" });
    context = fx.context();
  });
  afterEach(() => fx.remove());

  const call = (name: string, input: unknown) =>
    tools.execute({ name, input }, context) as Promise<FileChange>;
  const readFirst = (path: string) => tools.execute({ name: "read_file", input: { path } }, context);

  it("creates a new file without a read, with a diff from /dev/null", async () => {
    const change = await call("write_file", { path: "new/c.ts", content: "export {};\n" });
    assert.equal(fx.read("new/c.ts"), "export {};\n");
    assert.equal(change.created, true);
    assert.equal(change.diff, "--- /dev/null\n+++ b/new/c.ts\n@@ -0,0 +1,1 @@\n+export {};\n");
  });

  it("refuses to write inside .git, where a hook would run outside the command policy", async () => {
    await assert.rejects(
      call("write_file", { path: ".git/hooks/pre-commit", content: "#!/bin/sh\n" }),
      /inside .git, which the file tools do not change/,
    );
    assert.deepEqual(fx.names(), ["a.ts", "twice.ts"]);
  });

  it("refuses to overwrite a file that was not read first", async () => {
    await assert.rejects(call("write_file", { path: "a.ts", content: "gone\n" }), (error: unknown) => {
      assert.ok(error instanceof ReadBeforeWriteError);
      assert.match(error.message, /has not been read; read it with read_file/);
      return true;
    });
    assert.equal(fx.read("a.ts"), "const a = 1;\nconst b = 2;\n");
  });

  it("overwrites a file that was read, returning the diff", async () => {
    await readFirst("a.ts");
    const change = await call("write_file", { path: "a.ts", content: "const a = 1;\n" });
    assert.equal(fx.read("a.ts"), "const a = 1;\n");
    assert.equal(change.diff, "--- a/a.ts\n+++ b/a.ts\n@@ -1,2 +1,1 @@\n const a = 1;\n-const b = 2;\n");
  });

  it("refuses an edit of a file changed on disk since it was read", async () => {
    await readFirst("a.ts");
    writeFileSync(fx.at("a.ts"), "const a = 3;\nconst b = 2;\n");
    await assert.rejects(
      call("edit", { path: "a.ts", oldString: "b = 2", newString: "b = 4" }),
      /changed since it was last read/,
    );
    assert.equal(fx.read("a.ts"), "const a = 3;\nconst b = 2;\n");
  });

  it("replaces the one occurrence of oldString and returns the diff", async () => {
    await readFirst("a.ts");
    const change = await call("edit", { path: "a.ts", oldString: "b = 2", newString: "b = 20" });
    assert.equal(fx.read("a.ts"), "const a = 1;\nconst b = 20;\n");
    assert.match(change.diff, /^-const b = 2;\n\+const b = 20;$/m);
  });

  it("allows a second edit after its own change without another read", async () => {
    await readFirst("a.ts");
    await call("edit", { path: "a.ts", oldString: "a = 1", newString: "a = 10" });
    await call("edit", { path: "a.ts", oldString: "b = 2", newString: "b = 20" });
    assert.equal(fx.read("a.ts"), "const a = 10;\nconst b = 20;\n");
  });

  it("applies two edits of one file called in parallel one after the other, both kept", async () => {
    await readFirst("a.ts");
    await Promise.all([
      call("edit", { path: "a.ts", oldString: "a = 1", newString: "a = 10" }),
      call("edit", { path: "a.ts", oldString: "b = 2", newString: "b = 20" }),
    ]);
    assert.equal(fx.read("a.ts"), "const a = 10;\nconst b = 20;\n");
  });

  it("refuses an oldString that occurs more than once, saying how often", async () => {
    await readFirst("twice.ts");
    await assert.rejects(
      call("edit", { path: "twice.ts", oldString: "x();", newString: "y();" }),
      (error: unknown) => {
        assert.ok(error instanceof EditMatchError);
        assert.deepEqual([error.code, error.matches], ["edit_not_unique", 2]);
        return true;
      },
    );
    assert.equal(fx.read("twice.ts"), "x();\nx();\n");
  });

  it("refuses an oldString that is not in the file", async () => {
    await readFirst("a.ts");
    await assert.rejects(
      call("edit", { path: "a.ts", oldString: "const c", newString: "let c" }),
      /edit_not_found|was not found/,
    );
  });

  it("leaves no temp file behind after an edit", async () => {
    await readFirst("a.ts");
    await call("edit", { path: "a.ts", oldString: "a = 1", newString: "a = 10" });
    assert.deepEqual(fx.names(), ["a.ts", "twice.ts"]);
  });

  it("refuses a file read only in part because it is too large to read whole", async () => {
    fx.write("big.txt", "q\n".repeat(1000));
    const small = fx.context({ limits: { maxEditableBytes: 100 } });
    await tools.execute({ name: "read_file", input: { path: "big.txt" } }, small);
    await assert.rejects(
      tools.execute({ name: "edit", input: { path: "big.txt", oldString: "q", newString: "r" } }, small),
      /over the 100-byte limit/,
    );
  });

  it("keeps what was read across turns: a context for a new signal still knows the read", async () => {
    await readFirst("a.ts");
    const nextTurn = context.withSignal(new AbortController().signal);
    await tools.execute(
      { name: "edit", input: { path: "a.ts", oldString: "a = 1", newString: "a = 5" } },
      nextTurn,
    );
    assert.equal(fx.read("a.ts"), "const a = 5;\nconst b = 2;\n");
  });
});
