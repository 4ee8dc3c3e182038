import { registerRevivableError, revivableErrorClass } from "../errors.js";
import { Pid, Ref } from "../runtime/index.js";
import { UnsendableMessageError } from "./errors.js";

// Each layer registers its own error classes (in its errors.ts, at load); this is the public name.
export { registerRevivableError };

/**
 * What crosses a host boundary is a structured clone, which keeps plain data, Dates, Maps,
 * Sets, typed arrays and Errors but silently strips the class of anything else. So pids, refs
 * and sessionvisor errors are tagged on the way out and rebuilt on the way in, and anything that
 * would arrive changed (a function, a symbol, an instance of some other class) is refused with
 * an UnsendableMessageError naming where it was, instead of arriving as something else.
 */
const TAG = "$sessionvisor";

type Tagged =
  | { [TAG]: "pid"; text: string }
  | { [TAG]: "ref"; text: string }
  | {
      [TAG]: "error";
      name: string;
      message: string;
      stack?: string | undefined;
      props: Record<string, unknown>;
    };

const CLONEABLE = new Set<unknown>([Date.prototype, RegExp.prototype, ArrayBuffer.prototype]);

export function encodeTerm(value: unknown, path = "message"): unknown {
  switch (typeof value) {
    case "string":
    case "number":
    case "boolean":
    case "undefined":
    case "bigint":
      return value;
    case "function":
      throw new UnsendableMessageError(path, "is a function");
    case "symbol":
      throw new UnsendableMessageError(path, "is a symbol");
  }
  if (value === null) return value;
  const object = value as object;
  if (object instanceof Pid) return { [TAG]: "pid", text: object.toString() };
  if (object instanceof Ref) return { [TAG]: "ref", text: object.toString() };
  if (object instanceof Error) return encodeError(object, path);
  if (Array.isArray(object)) return encodeArray(object, path);
  const proto = Object.getPrototypeOf(object);
  if (proto === Object.prototype || proto === null)
    return encodeRecord(object as Record<string, unknown>, path);
  if (CLONEABLE.has(proto) || ArrayBuffer.isView(object)) return object;
  if (object instanceof Map) {
    const out = new Map();
    for (const [k, v] of object)
      out.set(encodeTerm(k, `${path} key`), encodeTerm(v, `${path}.get(${String(k)})`));
    return out;
  }
  if (object instanceof Set) {
    const out = new Set();
    for (const v of object) out.add(encodeTerm(v, `${path} member`));
    return out;
  }
  const name = (proto as { constructor?: { name?: string } })?.constructor?.name ?? "an unknown class";
  throw new UnsendableMessageError(path, `is an instance of ${name}, which would arrive as a plain object`);
}

function encodeArray(array: unknown[], path: string): unknown[] {
  let out: unknown[] | undefined;
  for (let i = 0; i < array.length; i++) {
    const item = array[i];
    const encoded = encodeTerm(item, `${path}[${i}]`);
    if (encoded !== item && !out) out = array.slice(0, i);
    if (out) out.push(encoded);
  }
  return out ?? array;
}

function encodeRecord(record: Record<string, unknown>, path: string): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  const keys = Object.keys(record);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const item = record[key];
    const encoded = encodeTerm(item, `${path}.${key}`);
    if (encoded !== item && !out) {
      out = {};
      for (let j = 0; j < i; j++) out[keys[j] as string] = record[keys[j] as string];
    }
    if (out) out[key] = encoded;
  }
  return out ?? record;
}

function encodeError(error: Error, path: string): Tagged {
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(error)) {
    try {
      props[key] = encodeTerm((error as unknown as Record<string, unknown>)[key], `${path}.${key}`);
    } catch {
      // A property that cannot travel (a handle, a callback) is dropped; the error itself still can.
    }
  }
  if (error.cause !== undefined && !("cause" in props)) {
    try {
      props.cause = encodeTerm(error.cause, `${path}.cause`);
    } catch {}
  }
  return { [TAG]: "error", name: error.name, message: error.message, stack: error.stack, props };
}

/** A reason that cannot travel still must: it goes as its description. */
export function encodeReason(reason: unknown): unknown {
  try {
    return encodeTerm(reason, "reason");
  } catch {
    return String(reason);
  }
}

export type EncodedOutcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * An answer (a reply, a service result) ready to post. One that cannot travel becomes the
 * error saying so: the asker gets that, not silence until its timeout.
 */
export function encodeOutcome(ok: boolean, value: unknown): EncodedOutcome {
  try {
    return ok
      ? { ok: true, value: encodeTerm(value, "reply") }
      : { ok: false, error: encodeTerm(value, "error") };
  } catch (error) {
    return { ok: false, error: encodeTerm(error, "error") };
  }
}

export function decodeTerm(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const decoded = decodeTerm(value[i]);
      if (decoded !== value[i] && !out) out = value.slice(0, i);
      if (out) out.push(decoded);
    }
    return out ?? value;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    if (value instanceof Map) return new Map([...value].map(([k, v]) => [decodeTerm(k), decodeTerm(v)]));
    if (value instanceof Set) return new Set([...value].map(decodeTerm));
    return value;
  }
  const record = value as Record<string, unknown>;
  const tag = record[TAG];
  if (tag === "pid") return Pid.parse(record.text as string);
  if (tag === "ref") return Ref.parse(record.text as string);
  if (tag === "error") return decodeError(record as Extract<Tagged, { [TAG]: "error" }>);
  let out: Record<string, unknown> | undefined;
  const keys = Object.keys(record);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const decoded = decodeTerm(record[key]);
    if (decoded !== record[key] && !out) {
      out = {};
      for (let j = 0; j < i; j++) out[keys[j] as string] = record[keys[j] as string];
    }
    if (out) out[key] = decoded;
  }
  return out ?? record;
}

function decodeError(tagged: Extract<Tagged, { [TAG]: "error" }>): Error {
  const type = revivableErrorClass(tagged.name);
  const error: Error = type ? Object.create(type.prototype) : new Error(tagged.message);
  Object.defineProperty(error, "message", { value: tagged.message, writable: true, configurable: true });
  if (!type || error.name !== tagged.name) {
    Object.defineProperty(error, "name", { value: tagged.name, writable: true, configurable: true });
  }
  Object.defineProperty(error, "stack", { value: tagged.stack, writable: true, configurable: true });
  for (const [key, v] of Object.entries(tagged.props))
    (error as unknown as Record<string, unknown>)[key] = decodeTerm(v);
  return error;
}
