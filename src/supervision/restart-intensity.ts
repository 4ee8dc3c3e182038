import { type Clock, InvalidArgumentError } from "../runtime/index.js";

/**
 * OTP's restart intensity: more than `maxRestarts` restarts within `period` ms means give up.
 * A restart exactly `period` ms old still counts, as in OTP's `Now - T =< Period`.
 */
export class RestartIntensity {
  // Allocated on the first restart: most children never restart.
  private times: number[] | undefined;

  constructor(
    readonly maxRestarts: number,
    readonly period: number,
    private readonly clock: Clock,
  ) {
    checkBudget(maxRestarts, period);
  }

  /** Records a restart; false when it goes over the budget. */
  record(): boolean {
    const now = this.clock.now();
    const times = this.times ?? [];
    this.times = times;
    times.push(now);
    while (times.length > 0 && now - (times[0] as number) > this.period) times.shift();
    return times.length <= this.maxRestarts;
  }
}

/**
 * As OTP, a budget is finite: a child whose start fails at once is retried until the budget
 * runs out, so an unbounded one (Infinity) would retry it forever. `option` prefixes the names
 * in the error (`childRestartBudget.` names the option a caller wrote).
 */
export function checkBudget(maxRestarts: unknown, period: unknown, option = ""): void {
  if (!(Number.isInteger(maxRestarts) && (maxRestarts as number) >= 0)) {
    throw new InvalidArgumentError(
      `${option}maxRestarts`,
      `must be a whole number >= 0 (a restart budget must be finite), got ${String(maxRestarts)}`,
    );
  }
  checkPeriod(period, option);
}

export function checkPeriod(period: unknown, option = ""): void {
  if (!(Number.isInteger(period) && (period as number) > 0)) {
    throw new InvalidArgumentError(
      `${option}period`,
      `must be a whole number of ms > 0 (a restart budget must be finite), got ${String(period)}`,
    );
  }
}
