import { type Clock, InvalidArgumentError } from "../runtime/index.js";

/**
 * OTP's restart intensity: more than `maxRestarts` restarts within `period` ms means give up.
 * A restart exactly `period` ms old still counts, as in OTP's `Now - T =< Period`.
 */
export class RestartIntensity {
  private readonly times: number[] = [];

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
    this.times.push(now);
    while (this.times.length > 0 && now - (this.times[0] as number) > this.period) this.times.shift();
    return this.times.length <= this.maxRestarts;
  }

  get recent(): number {
    return this.times.length;
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
