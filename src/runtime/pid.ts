import { InvalidArgumentError } from "./errors.js";

const NODE_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const PID_TEXT = /^<([A-Za-z0-9_-]{1,64})\.(\d{1,15})>$/;
const REF_TEXT = /^#Ref<([A-Za-z0-9_-]{1,64})\.(\d{1,15})>$/;

export function assertNodeName(node: string): void {
  if (typeof node !== "string" || !NODE_NAME.test(node)) {
    throw new InvalidArgumentError(
      "node",
      `must be 1-64 characters of letters, digits, '_' or '-', got ${JSON.stringify(node)}`,
    );
  }
}

/**
 * A process identifier. `S` is a phantom type naming the server behind the pid, so that
 * `call(pid, msg)` can check `msg` and type the reply. The text form `<node.id>` parses back.
 */
export class Pid<S = unknown> {
  // A method signature, so the phantom is bivariant: a Pid<Server> passes where a Pid is
  // expected and back, while `call(pid, …)` still infers the server from a typed pid.
  declare readonly __server?: { bivariant(server: S): void }["bivariant"];
  readonly node: string;
  readonly id: number;

  constructor(node: string, id: number) {
    this.node = node;
    this.id = id;
  }

  equals(other: Pid<unknown> | undefined | null): boolean {
    return other != null && other.id === this.id && other.node === this.node;
  }

  toString(): string {
    return `<${this.node}.${this.id}>`;
  }

  toJSON(): string {
    return this.toString();
  }

  static parse(text: string): Pid {
    const match = typeof text === "string" ? PID_TEXT.exec(text) : null;
    if (!match) {
      throw new InvalidArgumentError("pid", `expected the form <node.id>, got ${JSON.stringify(text)}`);
    }
    return new Pid(match[1] as string, Number(match[2]));
  }

  static isPid(value: unknown): value is Pid {
    return value instanceof Pid;
  }
}

/** A monitor or timer reference; unique within its runtime. */
export class Ref {
  readonly node: string;
  readonly id: number;

  constructor(node: string, id: number) {
    this.node = node;
    this.id = id;
  }

  equals(other: Ref | undefined | null): boolean {
    return other != null && other.id === this.id && other.node === this.node;
  }

  toString(): string {
    return `#Ref<${this.node}.${this.id}>`;
  }

  toJSON(): string {
    return this.toString();
  }

  static parse(text: string): Ref {
    const match = typeof text === "string" ? REF_TEXT.exec(text) : null;
    if (!match) {
      throw new InvalidArgumentError("ref", `expected the form #Ref<node.id>, got ${JSON.stringify(text)}`);
    }
    return new Ref(match[1] as string, Number(match[2]));
  }
}
