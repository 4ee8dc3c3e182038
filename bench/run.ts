// Runs the benchmarks and prints one table per suite, beside Erlang/OTP's figures measured in
// the same run (bench/otp/bench.exs). Usage: npm run bench [-- core]
import { measureCore } from "./core.js";
import { runOtp } from "./otp.js";
import { type Figure, renderTable } from "./table.js";

const ALL = ["core"];
const requested = process.argv.slice(2).filter((arg) => !arg.startsWith("-"));
const suites = requested.length > 0 ? requested : ALL;
for (const suite of suites) {
  if (!ALL.includes(suite)) {
    console.error(`unknown suite ${suite}; known: ${ALL.join(", ")}`);
    process.exit(2);
  }
}
if (!(globalThis as { gc?: unknown }).gc) {
  console.error("note: run with node --expose-gc (npm run bench does) to measure memory per process");
}

console.log(`sessionvisor benchmarks — node ${process.version}, ${new Date().toISOString()}`);
const otp = runOtp(suites);
console.log(
  otp.available
    ? `Erlang/OTP column: ${otp.versions}, measured in this run`
    : `Erlang/OTP column: ${otp.why}`,
);
console.log("");

if (suites.includes("core")) {
  const ours = await measureCore();
  const theirs = otp.suites.core ?? {};
  const figures: Figure[] = [
    {
      name: "processes spawned",
      unit: "/s",
      ours: ours.spawnPerSec,
      otp: theirs.spawnPerSec,
      higherIsBetter: true,
    },
    {
      name: "call round trip, median",
      unit: "µs",
      ours: ours.callMedianUs,
      otp: theirs.callMedianUs,
      higherIsBetter: false,
    },
    {
      name: "call round trip, p99",
      unit: "µs",
      ours: ours.callP99Us,
      otp: theirs.callP99Us,
      higherIsBetter: false,
    },
    {
      name: "cast throughput",
      unit: "/s",
      ours: ours.castPerSec,
      otp: theirs.castPerSec,
      higherIsBetter: true,
    },
    {
      name: "registry lookups",
      unit: "/s",
      ours: ours.registryLookupsPerSec,
      otp: theirs.registryLookupsPerSec,
      higherIsBetter: true,
    },
    {
      name: "crash → replacement ready, median",
      unit: "µs",
      ours: ours.restartMedianUs,
      otp: theirs.restartMedianUs,
      higherIsBetter: false,
    },
    {
      name: "crash → replacement ready, p99",
      unit: "µs",
      ours: ours.restartP99Us,
      otp: theirs.restartP99Us,
      higherIsBetter: false,
    },
    {
      name: "heap per idle process",
      unit: "B",
      ours: ours.bytesPerIdleProcess,
      otp: theirs.bytesPerIdleProcess,
      higherIsBetter: false,
      goal: { text: "≤ OTP and ≤ 2700 B", met: (v, o) => v <= 2700 && (o === undefined || v <= o) },
    },
  ];
  console.log(renderTable("core: processes, calls, registry, restarts", figures));
}
