// The layering, checked: a layer (src/<layer>) imports only from layers below it or its own,
// src/errors.ts is the bottom (it imports nothing of ours), and src/index.ts is the top (nothing
// of ours imports it). Imports are read with TypeScript's own scanner, so comments and strings
// that look like imports do not count, and dynamic `import("…")` does.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const LAYERS = [
  "runtime",
  "supervision",
  "registry",
  "hosts",
  "store",
  "llm",
  "tools",
  "session",
  "cluster",
  "server",
  "cli",
];
const SRC = resolve(dirname(fileURLToPath(import.meta.url)), "..", "src");

/** Where a source file sits in the layering: a rank, lower is further down. */
function rankOf(file: string): number {
  const parts = relative(SRC, file).split(sep);
  if (parts.length === 1) {
    // The bottom: they import nothing of ours.
    if (parts[0] === "errors.ts" || parts[0] === "version.ts") return -1;
    // The package's entry points (the root and its subpaths, see package.json's exports).
    if (parts[0] === "index.ts" || parts[0] === "otp.ts" || parts[0] === "testing.ts") return LAYERS.length;
    throw new Error(`src/${parts[0]} is outside every layer; give it a place in test/layers.test.ts`);
  }
  const rank = LAYERS.indexOf(parts[0] as string);
  if (rank < 0) throw new Error(`src/${parts[0]} is not a known layer; add it to test/layers.test.ts`);
  return rank;
}

function placeOf(rank: number): string {
  return rank < 0 ? "errors" : (LAYERS[rank] ?? "index");
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith(".ts") && !name.endsWith(".test.ts") ? [path] : [];
  });
}

/** The files of ours a source imports (statically, by re-export, or dynamically). */
function importsOf(file: string, text: string): string[] {
  return ts
    .preProcessFile(text, true, true)
    .importedFiles.map((imported) => imported.fileName)
    .filter((specifier) => specifier.startsWith("."))
    .map((specifier) => resolve(dirname(file), specifier).replace(/\.js$/, ".ts"));
}

/** Every import that runs upward, as `from -> to (layer -> layer)`. */
function upwardImports(files: { path: string; text: string }[]): string[] {
  const found: string[] = [];
  for (const { path, text } of files) {
    const from = rankOf(path);
    for (const target of importsOf(path, text)) {
      const to = rankOf(target);
      if (to > from || (to === from && to === LAYERS.length) || (to === from && from < 0)) {
        found.push(`${relative(SRC, path)} -> ${relative(SRC, target)} (${placeOf(from)} -> ${placeOf(to)})`);
      }
    }
  }
  return found;
}

describe("layers", () => {
  it("no source file imports from a layer above its own", () => {
    const files = sourceFiles(SRC).map((path) => ({ path, text: readFileSync(path, "utf8") }));
    assert.ok(files.length > 50, `found only ${files.length} source files under ${SRC}`);
    assert.deepEqual(upwardImports(files), []);
  });

  it("catches an upward import, a re-export and a dynamic import", () => {
    const fake = [
      { path: join(SRC, "store", "a.ts"), text: 'import { x } from "../session/index.js";' },
      { path: join(SRC, "runtime", "b.ts"), text: 'export { y } from "../hosts/index.js";' },
      { path: join(SRC, "llm", "c.ts"), text: 'const m = await import("../cli/main.js");' },
      { path: join(SRC, "errors.ts"), text: 'import { z } from "./runtime/index.js";' },
      { path: join(SRC, "hosts", "d.ts"), text: '// import { w } from "../session/index.js";' },
      {
        path: join(SRC, "session", "e.ts"),
        text: 'import { v } from "../errors.js";\nimport "../store/index.js";',
      },
    ];
    assert.deepEqual(upwardImports(fake), [
      "store/a.ts -> session/index.ts (store -> session)",
      "runtime/b.ts -> hosts/index.ts (runtime -> hosts)",
      "llm/c.ts -> cli/main.ts (llm -> cli)",
      "errors.ts -> runtime/index.ts (errors -> runtime)",
    ]);
  });
});

/** Every import cycle among `files` (imports leaving them ignored), once each, from its first file in name order. */
function cyclesAmong(files: { path: string; text: string }[]): string[] {
  const paths = new Set(files.map((f) => f.path));
  const graph = new Map(
    files.map(({ path, text }) => [path, importsOf(path, text).filter((t) => paths.has(t))]),
  );
  const found = new Set<string>();
  const done = new Set<string>();
  const walk = (path: string[]): void => {
    const here = path[path.length - 1] as string;
    for (const next of graph.get(here) ?? []) {
      const at = path.indexOf(next);
      if (at >= 0) {
        const cycle = path.slice(at).map((p) => relative(SRC, p));
        const first = cycle.indexOf([...cycle].sort()[0] as string);
        const turned = [...cycle.slice(first), ...cycle.slice(0, first)];
        found.add([...turned, turned[0]].join(" -> "));
      } else if (!done.has(next)) {
        walk([...path, next]);
      }
    }
    done.add(here);
  };
  for (const path of [...paths].sort()) if (!done.has(path)) walk([path]);
  return [...found].sort();
}

describe("import cycles", () => {
  for (const layer of ["runtime", "supervision", "session"]) {
    it(`has none among src/${layer} modules, type-only imports included`, () => {
      const files = sourceFiles(join(SRC, layer)).map((path) => ({ path, text: readFileSync(path, "utf8") }));
      assert.ok(files.length > 8, `found only ${files.length} modules in src/${layer}`);
      assert.deepEqual(cyclesAmong(files), []);
    });
  }

  it("catches a cycle through a type-only import and a re-export", () => {
    const fake = [
      { path: join(SRC, "runtime", "a.ts"), text: 'import { b } from "./b.js";' },
      { path: join(SRC, "runtime", "b.ts"), text: 'import type { C } from "./c.js";' },
      { path: join(SRC, "runtime", "c.ts"), text: 'export { a } from "./a.js";' },
      { path: join(SRC, "runtime", "d.ts"), text: 'import { a } from "./a.js";' },
    ];
    assert.deepEqual(cyclesAmong(fake), ["runtime/a.ts -> runtime/b.ts -> runtime/c.ts -> runtime/a.ts"]);
  });
});
