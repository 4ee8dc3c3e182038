import { decodeTerm, encodeTerm, UnsendableMessageError } from "../hosts/index.js";

/**
 * Terms on the cluster's wire. The hosts' term codec does the checking (what cannot travel is
 * refused, pids, refs and errors are tagged) but leaves the rest to the structured clone a
 * worker or child channel applies: Maps, Sets, Dates, bigints, typed arrays, `undefined`. NATS
 * carries bytes, so this module turns the codec's output into JSON and back, tagging what JSON
 * would lose or change, so that a term arrives on another node as it would in another host.
 */
const W = "$w";

type Tagged =
  | { [W]: "u" }
  | { [W]: "num"; v: "NaN" | "Infinity" | "-Infinity" | "-0" }
  | { [W]: "big"; v: string }
  | { [W]: "date"; v: string }
  | { [W]: "re"; s: string; f: string }
  | { [W]: "ab"; v: string }
  | { [W]: "view"; k: ViewKind; v: string }
  | { [W]: "map"; v: unknown[] }
  | { [W]: "set"; v: unknown[] }
  // A record of the sender's own that happens to have a `$w` key.
  | { [W]: "obj"; v: Record<string, unknown> };

const VIEWS = {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  DataView,
} as const;
type ViewKind = keyof typeof VIEWS;

/** A message, reply or reason as JSON-safe data; throws UnsendableMessageError for what cannot travel. */
export function packTerm(value: unknown, path = "message"): unknown {
  try {
    return toWire(encodeTerm(value, path), path);
  } catch (error) {
    if (error instanceof RangeError)
      throw new UnsendableMessageError(path, "is circular or nested too deeply");
    throw error;
  }
}

/** The term a `packTerm` result (parsed from JSON) stands for. */
export function unpackTerm(wire: unknown): unknown {
  return decodeTerm(fromWire(wire));
}

/** A reason that cannot travel still must: it goes as its description. */
export function packReason(reason: unknown): unknown {
  try {
    return packTerm(reason, "reason");
  } catch {
    return String(reason);
  }
}

export type PackedOutcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** An answer that cannot travel becomes the error saying so: the caller gets that, not a timeout. */
export function packOutcome(ok: boolean, value: unknown): PackedOutcome {
  try {
    return ok
      ? { ok: true, value: packTerm(value, "reply") }
      : { ok: false, error: packTerm(value, "error") };
  } catch (error) {
    return { ok: false, error: packReason(error) };
  }
}

function toWire(value: unknown, path: string): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      if (Number.isFinite(value) && !Object.is(value, -0)) return value;
      return { [W]: "num", v: Object.is(value, -0) ? "-0" : String(value) };
    case "undefined":
      return { [W]: "u" };
    case "bigint":
      return { [W]: "big", v: value.toString() };
  }
  if (value === null) return null;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = toWire(value[i], path);
    return out;
  }
  const object = value as object;
  const proto = Object.getPrototypeOf(object);
  if (proto === Object.prototype || proto === null) {
    const record = object as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(record)) out[key] = toWire(record[key], path);
    return Object.hasOwn(record, W) ? { [W]: "obj", v: out } : out;
  }
  if (object instanceof Date) return { [W]: "date", v: String(object.getTime()) };
  if (object instanceof RegExp) return { [W]: "re", s: object.source, f: object.flags };
  if (object instanceof ArrayBuffer) return { [W]: "ab", v: Buffer.from(object).toString("base64") };
  if (ArrayBuffer.isView(object)) {
    const bytes = Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString("base64");
    return { [W]: "view", k: viewKind(object), v: bytes };
  }
  if (object instanceof Map) {
    const out: unknown[] = [];
    for (const [k, v] of object) out.push([toWire(k, path), toWire(v, path)]);
    return { [W]: "map", v: out };
  }
  if (object instanceof Set) return { [W]: "set", v: [...object].map((v) => toWire(v, path)) };
  // The term codec lets through only what is handled above; this is a guard, not a path.
  throw new UnsendableMessageError(path, "holds a value the cluster's wire cannot carry");
}

function viewKind(view: ArrayBufferView): ViewKind {
  for (const kind of Object.keys(VIEWS) as ViewKind[]) {
    // A Buffer is a Uint8Array, and arrives as one, as through a structured clone.
    if (view instanceof VIEWS[kind]) return kind;
  }
  return "Uint8Array";
}

/** Decodes in place: the value is freshly parsed JSON, which nobody else holds. */
function fromWire(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = fromWire(value[i]);
    return value;
  }
  const record = value as Record<string, unknown>;
  return Object.hasOwn(record, W) ? fromTagged(record as Tagged) : fromFields(record);
}

function fromFields(record: Record<string, unknown>): Record<string, unknown> {
  for (const key of Object.keys(record)) {
    const item = record[key];
    if (item !== null && typeof item === "object") record[key] = fromWire(item);
  }
  return record;
}

function fromTagged(tagged: Tagged): unknown {
  switch (tagged[W]) {
    case "u":
      return undefined;
    case "num":
      return tagged.v === "-0" ? -0 : Number(tagged.v);
    case "big":
      return BigInt(tagged.v);
    case "date":
      return new Date(Number(tagged.v));
    case "re":
      return new RegExp(tagged.s, tagged.f);
    case "ab": {
      const bytes = Buffer.from(tagged.v, "base64");
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    }
    case "view": {
      const bytes = Buffer.from(tagged.v, "base64");
      const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      const View = VIEWS[tagged.k] ?? Uint8Array;
      if (View === DataView) return new DataView(buffer);
      const Typed = View as new (buffer: ArrayBuffer) => ArrayBufferView;
      return new Typed(buffer);
    }
    case "map":
      return new Map(tagged.v.map((pair) => (pair as unknown[]).map(fromWire) as [unknown, unknown]));
    case "set":
      return new Set(tagged.v.map(fromWire));
    case "obj":
      return fromFields(tagged.v);
    default:
      // A tag this version does not know (a newer node's): left as it came, not guessed at.
      return tagged;
  }
}
