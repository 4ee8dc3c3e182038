/**
 * The bottom of the layering: the base error class every layer throws, and the registry of
 * error classes that keep their class when they cross a host boundary. It imports nothing, so
 * any layer (the store and llm ones included) can use it without depending on the runtime.
 */

/** Base class of every error sessionvisor throws; `code` is stable for programs to match on. */
export class SessionvisorError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A public entry point was given something malformed. */
export class InvalidArgumentError extends SessionvisorError {
  readonly argument: string;

  constructor(argument: string, problem: string) {
    super("invalid_argument", `invalid ${argument}: ${problem}`);
    this.argument = argument;
  }
}

/** A class of errors that can be rebuilt from its name on the far side of a host boundary. */
export interface RevivableErrorClass {
  readonly prototype: object;
  readonly name: string;
}

const revivable = new Map<string, RevivableErrorClass>();

/**
 * Lets errors of this class keep their class (and `instanceof`) when they cross a host boundary.
 * Classes are known by `name`, so it must be unique among registered classes. Register a class
 * in the module that defines it, at load: whatever can throw it has then registered it too, in
 * every host that loads that module.
 */
export function registerRevivableError(type: RevivableErrorClass): void {
  revivable.set(type.name, type);
}

/** The registered class of that name, if any (what the term codec rebuilds an error as). */
export function revivableErrorClass(name: string): RevivableErrorClass | undefined {
  return revivable.get(name);
}

for (const type of [
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  SessionvisorError,
  InvalidArgumentError,
]) {
  registerRevivableError(type);
}
