import { spawnSync } from "node:child_process";
import { resolve } from "node:path";

export interface OtpResult {
  available: boolean;
  why?: string;
  versions?: string;
  suites: Record<string, Record<string, number>>;
}

/**
 * Runs bench/otp/bench.exs for the given suites in the same run as ours, so that the two are
 * compared on the same machine under the same load. Says plainly when Elixir is missing.
 */
export function runOtp(suites: string[]): OtpResult {
  // npm runs scripts from the package root; the bench itself runs compiled from .bench-out/.
  const script = resolve(process.cwd(), "bench/otp/bench.exs");
  const probe = spawnSync("elixir", ["--version"], { encoding: "utf8" });
  if (probe.error || probe.status !== 0) {
    return {
      available: false,
      why: "elixir is not installed (apt-get install elixir): the Erlang/OTP column is left empty",
      suites: {},
    };
  }
  const run = spawnSync("elixir", [script, ...suites], { encoding: "utf8", timeout: 180_000 });
  if (run.status !== 0) {
    return { available: false, why: `bench/otp/bench.exs failed: ${run.stderr.slice(-500)}`, suites: {} };
  }
  const line = run.stdout.trim().split("\n").pop() ?? "{}";
  const parsed = JSON.parse(line) as {
    otp?: string;
    elixir?: string;
    suites?: Record<string, Record<string, number>>;
  };
  return {
    available: true,
    versions: `OTP ${parsed.otp}, Elixir ${parsed.elixir}`,
    suites: parsed.suites ?? {},
  };
}
