// Compares this checkout's build with an earlier revision's, in one process, rounds alternated:
// on this shared, noisy machine two runs minutes apart differ by ±15 %, so a goal stated against
// an earlier build ("twice today's rate") is only measured fairly beside that build.
//
//   npm run build && npm run bench:against -- <git-rev> [--rounds N]
//
// The revision is checked out in .bench-against/<sha> (a git worktree, kept for the next run),
// built with its own `npm run build` over this checkout's node_modules, and both builds are
// driven through the public API only (SessionSystem.start, createSession, sendMessage,
// subscribeAll, silentLogger), the calls every revision since the session layer has. Each figure
// is the median of its rounds; the last column is this checkout's figure over the revision's.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values, positionals } = parseOrExit({
  allowPositionals: true,
  options: {
    rounds: { type: "string", default: "7" },
    // Internal: the measuring child, given the two builds' entry files.
    measure: { type: "boolean", default: false },
  },
});

if (values.measure) await measure(positionals, Number(values.rounds));
else prepareAndRun(positionals[0], values.rounds);

function prepareAndRun(rev, rounds) {
  if (!rev) fail("usage: npm run bench:against -- <git-rev> [--rounds N]");
  if (!/^[1-9][0-9]*$/.test(rounds)) fail(`--rounds must be a positive integer, not ${rounds}`);
  const here = join(root, "dist", "index.js");
  if (!existsSync(here)) fail("this checkout is not built: run npm run build first");
  const sha = git("rev-parse", "--verify", "--quiet", `${rev}^{commit}`);
  if (!sha) fail(`${rev} is not a revision of this repository`);
  const tree = join(root, ".bench-against", sha.slice(0, 12));
  const theirs = join(tree, "dist", "index.js");
  if (!existsSync(theirs)) {
    if (!existsSync(tree)) git("worktree", "add", "--detach", tree, sha);
    if (!existsSync(join(tree, "node_modules")))
      symlinkSync(join(root, "node_modules"), join(tree, "node_modules"));
    console.log(`building ${rev} (${sha.slice(0, 12)}) in ${tree}`);
    const built = spawnSync("npm", ["run", "build"], { cwd: tree, stdio: "inherit" });
    if (built.status !== 0 || !existsSync(theirs)) fail(`${rev} did not build`);
  }
  const child = spawnSync(
    process.execPath,
    ["--expose-gc", fileURLToPath(import.meta.url), "--measure", "--rounds", rounds, here, theirs, rev],
    { stdio: "inherit" },
  );
  process.exit(child.status ?? 1);
}

async function measure([herePath, theirPath, label], rounds) {
  const builds = [
    { name: "this checkout", api: await import(pathToFileURL(herePath).href) },
    { name: label, api: await import(pathToFileURL(theirPath).href) },
  ];
  const dir = mkdtempSync(join(tmpdir(), "sessionvisor-against-"));
  try {
    // V8 optimises the create path over the first few thousand calls (as the bench warms it).
    for (const { api } of builds) await inMemoryCreates(api, 5000);
    const figures = [
      {
        name: "createSession, SQLite file, one at a time",
        unit: "/s",
        run: (api, i) => sqliteCreates(api, join(dir, `${i}.db`)),
      },
      {
        name: "createSession, memory store, one at a time",
        unit: "/s",
        run: (api) => inMemoryCreates(api, 5000),
      },
      { name: "sendMessage, memory store, median", unit: "µs", run: (api) => turnMedianUs(api) },
    ];
    const rows = [];
    let files = 0;
    for (const figure of figures) {
      // One round of each build first, not counted: the first runs of a path read 1.5-3x slower.
      for (const { api } of builds) await figure.run(api, files++);
      const readings = builds.map(() => []);
      for (let round = 0; round < rounds; round++) {
        // Alternated, each build first in every other round: neither always runs on a warmer disk.
        const order = round % 2 === 0 ? [0, 1] : [1, 0];
        for (const b of order) readings[b].push(await figure.run(builds[b].api, files++));
      }
      const [ours, theirs] = readings.map(median);
      rows.push([figure.name, figure.unit, ours, theirs, readings]);
      console.log(`${figure.name}: ${readings.map((r) => r.map(round0).join(" ")).join(" | ")}`);
    }
    printTable(builds, rows, rounds);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `n` creates one at a time after `warm` unmeasured ones, on an SQLite file or (no path) in memory. */
async function createRate(api, { storePath, n, warm }) {
  const options = { logger: api.silentLogger(), maxSessions: 20_000 };
  const system = await api.SessionSystem.start(storePath ? { ...options, storePath } : options);
  const subscriber = system.subscribeAll(() => {});
  for (let i = 0; i < warm; i++) await system.createSession();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await system.createSession();
  const perSec = n / ((performance.now() - t0) / 1000);
  subscriber.unsubscribe();
  await system.stop();
  return perSec;
}

function sqliteCreates(api, storePath) {
  return createRate(api, { storePath, n: 1000, warm: 100 });
}

function inMemoryCreates(api, n) {
  return createRate(api, { n, warm: 0 });
}

async function turnMedianUs(api, n = 2000) {
  const system = await api.SessionSystem.start({ logger: api.silentLogger() });
  const subscriber = system.subscribeAll(() => {});
  const sessions = [];
  for (let i = 0; i < 10; i++) sessions.push(await system.createSession());
  const times = [];
  for (let i = 0; i < n + 500; i++) {
    const t0 = performance.now();
    await system.sendMessage(sessions[i % 10].id, "echo the quick brown fox jumps over the lazy dog");
    if (i >= 500) times.push((performance.now() - t0) * 1000);
  }
  subscriber.unsubscribe();
  await system.stop();
  return median(times);
}

function printTable(builds, rows, rounds) {
  const head = ["figure", "unit", builds[0].name, builds[1].name, "ratio"];
  const body = rows.map(([name, unit, ours, theirs]) => {
    // Higher is better for rates, lower for times: the ratio reads "times better" either way.
    const ratio = unit === "/s" ? ours / theirs : theirs / ours;
    return [name, unit, round0(ours), round0(theirs), `${ratio.toFixed(2)}×`];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(" | ")} |`;
  console.log(`\nmedian of ${rounds} alternated rounds; ratio > 1: this checkout is better`);
  console.log(line(head));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const r of body) console.log(line(r));
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

function round0(value) {
  return value >= 100 ? Math.round(value).toLocaleString("en-US") : value.toFixed(1);
}

function git(...args) {
  try {
    return execFileSync("git", args, {
      cwd: root,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return "";
  }
}

function parseOrExit(config) {
  try {
    return parseArgs(config);
  } catch (error) {
    fail(`${error.message}\nusage: npm run bench:against -- <git-rev> [--rounds N]`);
  }
}

function fail(message) {
  console.error(message);
  process.exit(2);
}
