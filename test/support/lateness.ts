import { performance } from "node:perf_hooks";

/**
 * Arms a callback `ms` from now (a timer by default; `arm` may use another source, such as
 * setImmediate or an fs call) and says how much later than asked it ran, counting only the share
 * of that time this process was running. On a loaded machine the OS may pause the whole process
 * for hundreds of ms, which delays a timer whatever the scheduler does; what the scheduler
 * answers for is time it spent running processes instead of yielding, and then the process is
 * on a CPU. A scheduler that never yields keeps the process running, so its lateness counts whole.
 */
export function runningLateness(
  ms: number,
  arm: (done: () => void) => void = (done) => setTimeout(done, ms),
): Promise<number> {
  const armed = performance.now();
  const cpuAtArm = process.cpuUsage();
  return new Promise((resolve) =>
    arm(() => {
      const wallMs = performance.now() - armed;
      const cpu = process.cpuUsage(cpuAtArm);
      const running = wallMs > 0 ? Math.min(1, (cpu.user + cpu.system) / 1000 / wallMs) : 1;
      resolve((wallMs - ms) * running);
    }),
  );
}
