// Runs node's built-in test runner over every *.test.ts under src/ and test/, through tsx.
// Node 20's --test does not expand globs, so the files are found here. Extra arguments
// (a file path, --test-name-pattern=...) are passed on.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function findTests(dir) {
  let found = [];
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return found;
  }
  for (const name of entries) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found = found.concat(findTests(path));
    else if (name.endsWith(".test.ts")) found.push(path);
  }
  return found;
}

const args = process.argv.slice(2);
const explicit = args.filter((arg) => !arg.startsWith("-"));
const options = args.filter((arg) => arg.startsWith("-"));
const files = explicit.length > 0 ? explicit : [...findTests("src"), ...findTests("test")].sort();
if (files.length === 0) {
  console.error("no *.test.ts files found under src/ or test/");
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-reporter=spec", ...options, ...files],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
