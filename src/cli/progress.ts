import type { Out } from "./output.js";

/** Work shorter than this shows nothing: a spinner that flashes is noise. */
const SHOW_AFTER_MS = 1000;
const FRAME_MS = 80;
const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
/** Back to the line's start and clear it. */
const CLEAR_LINE = "\r\x1b[2K";

/**
 * Resolves as `work` does; meanwhile, on a terminal (never in a pipe, nor with NO_COLOR's
 * cousin TERM=dumb), a spinner with `label` on `out` once the work has taken more than a second,
 * wiped when it ends, so that what the command prints next starts on a clean line.
 */
export async function withProgress<T>(
  out: Out,
  env: NodeJS.ProcessEnv,
  label: string,
  work: Promise<T>,
): Promise<T> {
  if (out.isTTY !== true || env.TERM === "dumb") return work;
  let frame = 0;
  let shown = false;
  let spinning: NodeJS.Timeout | undefined;
  const draw = () => {
    out.write(`${CLEAR_LINE}${FRAMES[frame++ % FRAMES.length]} ${label}`);
    shown = true;
  };
  const waiting = setTimeout(() => {
    draw();
    spinning = setInterval(draw, FRAME_MS);
  }, SHOW_AFTER_MS);
  try {
    return await work;
  } finally {
    clearTimeout(waiting);
    clearInterval(spinning);
    if (shown) out.write(CLEAR_LINE);
  }
}
