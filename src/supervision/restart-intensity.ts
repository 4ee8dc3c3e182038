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
    if (this.maxRestarts === Number.POSITIVE_INFINITY) return true;
    const now = this.clock.now();
    const times = this.times ?? [];
    this.times = times;
    times.push(now);
    while (times.length > 0 && now - (times[0] as number) > this.period) times.shift();
    return times.length <= this.maxRestarts;
  }
}

export function checkBudget(maxRestarts: number, period: number, what = "restart intensity"): void {
  if (!(maxRestarts === Number.POSITIVE_INFINITY || (Number.isInteger(maxRestarts) && maxRestarts >= 0))) {
    throw new InvalidArgumentError(
      `${what} maxRestarts`,
      `must be a whole number >= 0, got ${String(maxRestarts)}`,
    );
  }
  if (typeof period !== "number" || !(period > 0)) {
    throw new InvalidArgumentError(`${what} period`, `must be a number of ms > 0, got ${String(period)}`);
  }
}
