/** One benchmark figure, with Erlang/OTP's measured in the same run when available. */
export interface Figure {
  name: string;
  unit: string;
  ours: number | undefined;
  otp: number | undefined;
  /** Whether a larger number is better (rates) or a smaller one (latency, bytes). */
  higherIsBetter: boolean;
  /** An extra goal beyond "at least as good as OTP", e.g. "≤ 2700 B". */
  goal?: { text: string; met: (ours: number, otp: number | undefined) => boolean };
}

function format(value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return "";
  if (value >= 100_000) return Math.round(value).toLocaleString("en-US");
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** How many times better ours is than OTP's (> 1 is better), whatever the direction. */
export function advantage(figure: Figure): number | undefined {
  if (figure.ours === undefined || figure.otp === undefined || figure.ours === 0 || figure.otp === 0)
    return undefined;
  return figure.higherIsBetter ? figure.ours / figure.otp : figure.otp / figure.ours;
}

/**
 * What the `otp` column holds when it is not Erlang/OTP (a bare Worker, a bare node child):
 * its header, and the ratio shown as ours over it (× of the baseline's time or memory).
 */
export interface Baseline {
  name: string;
}

export function renderTable(title: string, figures: Figure[], baseline?: Baseline): string {
  const header = baseline
    ? ["figure", "unit", "sessionvisor", baseline.name, `× ${baseline.name}`, "goal", "met"]
    : ["figure", "unit", "sessionvisor", "Erlang/OTP", "× vs OTP", "goal", "met"];
  const rows = figures.map((f) => {
    const adv =
      baseline && f.ours !== undefined && f.otp !== undefined && f.otp !== 0
        ? f.ours / f.otp
        : baseline
          ? undefined
          : advantage(f);
    const goal = f.goal?.text ?? (f.otp === undefined || baseline ? "" : "≥ OTP");
    let met = "";
    if (f.ours !== undefined) {
      if (f.goal) met = f.goal.met(f.ours, f.otp) ? "yes" : "NO";
      else if (adv !== undefined && !baseline) met = adv >= 1 ? "yes" : "NO";
    }
    return [
      f.name,
      f.unit,
      format(f.ours),
      format(f.otp),
      adv === undefined ? "" : `${adv.toFixed(2)}×`,
      goal,
      met,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(" | ")} |`;
  return [
    `### ${title}`,
    "",
    line(header),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    ...rows.map(line),
  ].join("\n");
}
