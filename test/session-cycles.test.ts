// No import cycle among the session layer's modules: a cycle makes the load order decide which
// module sees the other half-initialized, and ties two concepts so that neither changes alone.
// Imports are read with TypeScript's own scanner (type-only imports count: they tie the files
// as much for a reader), the way test/layers.test.ts reads them.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const SESSION = resolve(dirname(fileURLToPath(import.meta.url)), "..", "src", "session");

type Graph = Map<string, string[]>;

/** Each module of `dir` (tests left out) and the modules of `dir` it imports. */
function graphOf(files: { name: string; text: string }[]): Graph {
  const names = new Set(files.map((f) => f.name));
  const graph: Graph = new Map();
  for (const { name, text } of files) {
    const targets = ts
      .preProcessFile(text, true, true)
      .importedFiles.map((imported) => imported.fileName)
      .filter((specifier) => specifier.startsWith("./"))
      .map((specifier) => specifier.slice(2).replace(/\.js$/, ".ts"))
      .filter((target) => names.has(target));
    graph.set(name, [...new Set(targets)]);
  }
  return graph;
}

/** Every cycle, once each, as `a.ts -> b.ts -> a.ts`, starting from its smallest name. */
function cyclesOf(graph: Graph): string[] {
  const found = new Set<string>();
  const walk = (path: string[]) => {
    const here = path[path.length - 1] as string;
    for (const next of graph.get(here) ?? []) {
      const at = path.indexOf(next);
      if (at >= 0) {
        const cycle = path.slice(at);
        const start = cycle.indexOf([...cycle].sort()[0] as string);
        const turned = [...cycle.slice(start), ...cycle.slice(0, start)];
        found.add([...turned, turned[0]].join(" -> "));
      } else {
        walk([...path, next]);
      }
    }
  };
  for (const name of [...graph.keys()].sort()) walk([name]);
  return [...found].sort();
}

describe("session layer imports", () => {
  it("has no import cycle among src/session modules", () => {
    const files = readdirSync(SESSION)
      .filter((name) => name.endsWith(".ts") && !name.endsWith(".test.ts"))
      .map((name) => ({ name, text: readFileSync(join(SESSION, name), "utf8") }));
    assert.ok(files.length > 20, `found only ${files.length} modules in ${relative(".", SESSION)}`);
    assert.deepEqual(cyclesOf(graphOf(files)), []);
  });

  it("catches a cycle through a type-only import", () => {
    const fake = [
      { name: "a.ts", text: 'import { b } from "./b.js";' },
      { name: "b.ts", text: 'import type { C } from "./c.js";' },
      { name: "c.ts", text: 'export { a } from "./a.js";' },
      { name: "d.ts", text: 'import { a } from "./a.js";' },
    ];
    assert.deepEqual(cyclesOf(graphOf(fake)), ["a.ts -> b.ts -> c.ts -> a.ts"]);
  });
});
