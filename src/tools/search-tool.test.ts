import assert from "node:assert/strict";
import { symlinkSync } from "node:fs";
import { afterEach, beforeEach, describe, it } from "node:test";
import { type ProjectFixture, projectFixture } from "../../test/support/project-fixture.js";
import { builtinToolSet, InvalidToolInputError, type ListFilesResult, type SearchResult } from "../index.js";

const tools = builtinToolSet();

describe("list_files and search", () => {
  let fx: ProjectFixture;
  beforeEach(async () => {
    fx = await projectFixture({
      ".gitignore": "dist/\n*.log\n",
      "src/a.ts": "const needle = 1;\n",
      "src/b.ts": "// Needle in a comment\nconst other = needle;\n",
      "src/.gitignore": "generated.ts\n!keep.log\n",
      "src/generated.ts": "const needle = 2;\n",
      "src/keep.log": "needle kept\n",
      "dist/out.js": "needle\n",
      "debug.log": "needle\n",
      ".git/config": "needle\n",
    });
  });
  afterEach(() => fx.remove());

  const list = (input: unknown, context = fx.context()) =>
    tools.execute({ name: "list_files", input }, context) as Promise<ListFilesResult>;
  const search = (input: unknown, context = fx.context()) =>
    tools.execute({ name: "search", input }, context) as Promise<SearchResult>;

  it("lists the root without what .gitignore ignores or .git", async () => {
    const result = await list({});
    assert.deepEqual(
      result.entries.map((entry) => `${entry.path}:${entry.type}`),
      [".gitignore:file", "src:directory"],
    );
  });

  it("lists recursively, applying nested .gitignore files and their re-includes", async () => {
    const result = await list({ recursive: true });
    assert.deepEqual(
      result.entries.map((entry) => entry.path),
      [".gitignore", "src", "src/.gitignore", "src/a.ts", "src/b.ts", "src/keep.log"],
    );
  });

  it("lists a symlink as a symlink without following it", async () => {
    symlinkSync("/etc", fx.at("src/etc"));
    const result = await list({ path: "src" });
    assert.deepEqual(
      result.entries.find((entry) => entry.path === "src/etc"),
      { path: "src/etc", type: "symlink" },
    );
  });

  it("says a file is not a directory when asked to list it", async () => {
    await assert.rejects(list({ path: "src/a.ts" }), /"src\/a.ts" is a file, not a directory/);
  });

  it("caps the number of entries and says so", async () => {
    const result = await list({ recursive: true, maxEntries: 2 });
    assert.deepEqual([result.entries.length, result.truncated], [2, true]);
  });

  it("finds text as path:line:text, skipping ignored files", async () => {
    const result = await search({ pattern: "needle" });
    assert.deepEqual(result.matches, [
      "src/a.ts:1:const needle = 1;",
      "src/b.ts:2:const other = needle;",
      "src/keep.log:1:needle kept",
    ]);
  });

  it("searches only the files an include pattern matches", async () => {
    const result = await search({ pattern: "needle", include: "*.log" });
    assert.deepEqual(result.matches, ["src/keep.log:1:needle kept"]);
  });

  it("finds text regardless of case when asked", async () => {
    const result = await search({ pattern: "NEEDLE", caseSensitive: false, path: "src/b.ts" });
    assert.deepEqual(result.matches, [
      "src/b.ts:1:// Needle in a comment",
      "src/b.ts:2:const other = needle;",
    ]);
  });

  it("finds a regular expression", async () => {
    const result = await search({ pattern: "^const \\w+ = 1;$", regex: true });
    assert.deepEqual(result.matches, ["src/a.ts:1:const needle = 1;"]);
  });

  it("names the pattern when the regular expression is invalid", async () => {
    await assert.rejects(search({ pattern: "(", regex: true }), (error: unknown) => {
      assert.ok(error instanceof InvalidToolInputError);
      assert.equal(error.field, "pattern");
      return true;
    });
  });

  it("caps the matches and says so", async () => {
    const result = await search({ pattern: "needle", maxMatches: 1 });
    assert.deepEqual([result.matches.length, result.truncated], [1, true]);
  });

  it("stops a catastrophic regular expression at the time limit", async () => {
    fx.write("src/evil.txt", `${"a".repeat(40)}!\n`);
    const context = fx.context({ limits: { searchTimeoutMs: 300 } });
    const result = await search({ pattern: "^(a+)+$", regex: true, path: "src/evil.txt" }, context);
    assert.deepEqual([result.timedOut, result.matches], [true, []]);
  });

  it("looks at no more of a line than the line-length limit", async () => {
    fx.write("src/wide.txt", `${"x".repeat(50)}needle\n`);
    const context = fx.context({ limits: { maxSearchLineLength: 50 } });
    const result = await search({ pattern: "needle", path: "src/wide.txt" }, context);
    assert.deepEqual(result.matches, []);
  });

  it("skips files over the size limit", async () => {
    fx.write("src/big.txt", `needle\n${"z".repeat(2000)}\n`);
    const context = fx.context({ limits: { maxSearchFileBytes: 1000 } });
    const result = await search({ pattern: "needle", path: "src/big.txt" }, context);
    assert.deepEqual([result.matches, result.filesSkipped], [[], 1]);
  });

  it("does not search through a symlink that leads out of the project", async () => {
    symlinkSync("/etc", fx.at("src/etc"));
    const result = await search({ pattern: "root", path: "src" });
    assert.deepEqual(result.matches, []);
  });
});
