// Bundles the library's JavaScript with esbuild: `node scripts/bundle.mjs <outdir> [src-file…]`.
//
// Why: every worker-thread or child-process host is a fresh isolate that loads the runtime,
// the registry and the session's agents before it can run a session (not zod, the tools, the
// store backends or pino: see hosted-session.ts and runtime/logger.ts). As separate ES modules
// that load is most of a host's start; as a few files it is a fraction.
//
// The output is split into shared chunks, so the entry the package exports (`index.js`), the
// host's entry (`host-main.js`) and the hosted session's module (`hosted-session.js`) share one
// copy of every class: a module that imports the package inside a host (a provider module, a
// hosted root) gets the same Runtime, Pid and error classes as the host itself. All three sit
// at the top of <outdir>, beside the chunks, because the code finds them next to itself
// (`new URL("./host-main.js", import.meta.url)`).
//
// zod and pino are bundled in; zod without its translations of error messages, which the
// library never selects. Every other package stays an import (better-sqlite3 is native; the model
// SDKs load only when used). The runtime's loggers load pino only when one is made, from
// `pino.cjs` beside the chunks (a CommonJS bundle of it, which `require` loads synchronously), so
// that a host whose parent is silent does not load it; the server's log lines bundle their own.
//
// `--package` is the build the package ships (`npm run build`): no source maps, and a CommonJS
// shim per export for `require` (see writeRequireShims).
//
// Extra src files named after <outdir> become entries at their own path; `--bench` names the
// ones bench/*.ts import directly (the benchmarks run tsc's output of bench/ against this
// bundle, in .bench-out/src). They share the same chunks.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SRC = join(ROOT, "src");
/** Packages bundled into the output; every other bare import is left to Node to resolve. */
const BUNDLED = new Set(["zod", "pino"]);

/**
 * The package's subpath exports, each bundled to `<outdir>/<name>.js`; its types are what tsc
 * emits for `source` (tsconfig.build.json). test/package.test.ts checks package.json's `exports`
 * against this list.
 */
export const SUBPATHS = [
  { name: "otp", source: "src/otp.ts" },
  { name: "hosts", source: "src/hosts/index.ts" },
  { name: "llm", source: "src/llm/index.ts" },
  { name: "store", source: "src/store/index.ts" },
  { name: "tools", source: "src/tools/index.ts" },
  { name: "cluster", source: "src/cluster/index.ts" },
  { name: "testing", source: "src/testing.ts" },
];

export const ENTRIES = [
  { in: "src/index.ts", out: "index" },
  { in: "src/hosts/host-main.ts", out: "host-main" },
  { in: "src/session/hosted-session.ts", out: "hosted-session" },
  // The `sessionvisor` binary (package.json's `bin`).
  { in: "src/cli/main.ts", out: "cli/main" },
  // The package's subpaths (package.json's `exports`): `sessionvisor/otp`, `sessionvisor/hosts`, …
  // At the top of <outdir> like the rest, so every class stays in the shared chunks.
  ...SUBPATHS.map((subpath) => ({ in: subpath.source, out: subpath.name })),
];

function packageName(specifier) {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

const dependencies = {
  name: "dependencies",
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith("node:")) return { path: args.path, external: true };
      // What a bundled package requires is bundled with it.
      if (args.importer.includes(`${"/"}node_modules${"/"}`)) return undefined;
      return BUNDLED.has(packageName(args.path)) ? undefined : { path: args.path, external: true };
    });
    // zod's messages in English only: `z.locales` would otherwise bring 40 languages along.
    build.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${"/"}zod${"/"}`)
        ? { path: resolve(args.resolveDir, args.path), namespace: "zod-locales" }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: "zod-locales" }, (args) => ({
      contents: 'export { default as en } from "./en.js";',
      resolveDir: dirname(args.path),
      loader: "js",
    }));
  },
};

/**
 * `options.sourcemap` (default true) writes `.map` files beside the output. The package is built
 * without them (`--package`): a map that points at src/ files the package does not ship helps
 * nobody, and esbuild's unminified output reads well enough in a stack trace.
 */
export async function bundle(outdir, extra = [], options = {}) {
  const entryPoints = [
    ...ENTRIES.map((entry) => ({ in: join(ROOT, entry.in), out: entry.out })),
    ...extra.map((file) => {
      const path = resolve(ROOT, file);
      return { in: path, out: relative(SRC, path).replace(/\.ts$/, "") };
    }),
  ];
  // Chunks from an earlier build would stay beside the new ones.
  for (const name of safeList(outdir)) if (/^chunk-.*\.js(\.map)?$/.test(name)) rmSync(join(outdir, name));
  // pino for the runtime's loggers (src/runtime/logger.ts), which `require` it from here.
  await esbuild.build({
    entryPoints: [createRequire(import.meta.url).resolve("pino")],
    outfile: join(outdir, "pino.cjs"),
    bundle: true,
    format: "cjs",
    platform: "node",
    target: "node20",
    sourcemap: options.sourcemap ?? true,
    logLevel: "warning",
  });
  return esbuild.build({
    entryPoints,
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    sourcemap: options.sourcemap ?? true,
    chunkNames: "chunk-[hash]",
    plugins: [dependencies],
    // pino is CommonJS: its `require` calls need one in an ES module.
    banner: {
      js: 'import { createRequire as __sessionvisorRequire } from "node:module"; const require = __sessionvisorRequire(import.meta.url);',
    },
    logLevel: "warning",
  });
}

/**
 * `require("sessionvisor")` and `require("sessionvisor/<subpath>")` (package.json's `require`
 * condition): the package is ES modules, which `require()` loads on Node 20.19 or newer (22.12 on
 * 22) as long as they have no top-level await. On an older Node the error says so plainly,
 * instead of Node's ERR_REQUIRE_ESM about a file inside the package.
 */
function writeRequireShims(outdir) {
  for (const name of ["index", ...SUBPATHS.map((subpath) => subpath.name)]) {
    const specifier = name === "index" ? "sessionvisor" : `sessionvisor/${name}`;
    const shim = `"use strict";
// require(${JSON.stringify(specifier)}): the package is ES modules; Node.js 20.19 or newer loads them with require().
try {
  module.exports = require("./${name}.js");
} catch (error) {
  if (error && (error.code === "ERR_REQUIRE_ESM" || error.code === "ERR_REQUIRE_ASYNC_MODULE")) {
    throw new Error(
      \`sessionvisor is ES modules only: require(${JSON.stringify(specifier)}) needs Node.js 20.19 or newer (this is \${process.version}); upgrade Node, or load it with await import(${JSON.stringify(specifier)})\`,
      { cause: error },
    );
  }
  throw error;
}
`;
    writeFileSync(join(outdir, `${name}.cjs`), shim);
  }
}

/** The src files bench/*.ts import other than through the package's index. */
function benchImports() {
  const files = new Set();
  for (const name of readdirSync(join(ROOT, "bench")).filter((n) => n.endsWith(".ts"))) {
    const text = readFileSync(join(ROOT, "bench", name), "utf8");
    for (const [, path] of text.matchAll(/^import (?!type )[^;]*?from "\.\.\/src\/([^"]+)\.js";/gms)) {
      if (path !== "index" && existsSync(join(ROOT, `src/${path}.ts`))) files.add(`src/${path}.ts`);
    }
  }
  return [...files];
}

function safeList(dir, recursive = false) {
  try {
    return readdirSync(dir, { recursive });
  } catch {
    return [];
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const [outdir, ...extra] = args.filter((arg) => arg !== "--bench" && arg !== "--package");
  if (args.includes("--bench")) extra.push(...benchImports());
  if (!outdir) {
    console.error("usage: node scripts/bundle.mjs <outdir> [--package | --bench] [src-file…]");
    process.exit(2);
  }
  const pkg = args.includes("--package");
  if (pkg) {
    // Maps of an earlier build (cli/ too) would be left pointing at code this one replaced.
    for (const name of safeList(resolve(outdir), true)) {
      if (name.endsWith(".js.map")) rmSync(join(outdir, name));
    }
  }
  await bundle(resolve(outdir), extra, { sourcemap: !pkg });
  if (pkg) writeRequireShims(resolve(outdir));
}
