import type { NameService, Pid, Runtime } from "../../src/runtime/index.js";

/**
 * The smallest name service a runtime accepts (what a Registry with `names: true` does), for
 * tests of layers below the registry: one pid per name, dropped the moment the process exits.
 */
export class TestNames implements NameService {
  private readonly byName = new Map<string, Pid>();
  private readonly detach: (() => void)[] = [];

  constructor(runtime: Runtime) {
    this.detach.push(runtime.useNames(this));
    this.detach.push(
      runtime.onExit((pid) => {
        for (const [name, holder] of this.byName) if (holder.equals(pid)) this.byName.delete(name);
      }),
    );
  }

  register(name: string, pid: Pid): void {
    const holder = this.byName.get(name);
    if (holder) throw new Error(`${name} is already registered to ${holder}`);
    this.byName.set(name, pid);
  }

  whereis(name: string): Pid | undefined {
    return this.byName.get(name);
  }

  namesOf(pid: Pid): readonly string[] {
    return [...this.byName].filter(([, holder]) => holder.equals(pid)).map(([name]) => name);
  }

  close(): void {
    for (const undo of this.detach.splice(0)) undo();
  }
}
