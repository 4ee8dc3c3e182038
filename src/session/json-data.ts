/** A JSON value as plain data: what a caller's argument is copied into before anything uses it. */
export type JsonData = null | boolean | number | string | JsonData[] | { [key: string]: JsonData };

/** Most characters a session's (or a file's) metadata may take as JSON. */
export const MAX_METADATA_LENGTH = 64 * 1024;

export type JsonPath = (string | number)[];

export interface JsonDataLimits {
  /** Most characters the value may take as JSON text. */
  maxLength: number;
  /** Deepest nesting of arrays and objects (default 64). */
  maxDepth?: number;
}

export type JsonDataResult =
  | { ok: true; value: JsonData; length: number }
  | { ok: false; path: JsonPath; message: string };

const DEFAULT_MAX_DEPTH = 64;

class Refused {
  constructor(
    readonly path: JsonPath,
    readonly message: string,
  ) {}
}

/**
 * Copies an untrusted value into plain JSON data, or says where and why it is not such data.
 * Nothing of the caller's value is kept: getters run once, a Proxy is read through once, and
 * what the caller changes later changes nothing here. A cycle, a getter or trap that throws, a
 * BigInt, a symbol, a function, a non-finite number, an object that is not a plain object or
 * array (a Date, a Map, a class instance), an array hole, or a value past the limits is refused
 * with the path of the offending part. Never throws.
 *
 * Keys whose value is `undefined` are left out, as JSON.stringify leaves them out.
 */
export function toJsonData(value: unknown, limits: JsonDataLimits): JsonDataResult {
  const copier = new Copier(limits.maxLength, limits.maxDepth ?? DEFAULT_MAX_DEPTH);
  try {
    const copied = copier.copy(value, [], 0);
    return { ok: true, value: copied, length: copier.length };
  } catch (error) {
    if (error instanceof Refused) return { ok: false, path: error.path, message: error.message };
    // A stack overflow or a trap that throws where we did not expect one.
    return { ok: false, path: [], message: "could not be read as JSON data" };
  }
}

/** `a.b.0.c`, or "" for the value itself. */
export function formatJsonPath(path: JsonPath): string {
  return path.map(String).join(".");
}

class Copier {
  length = 0;
  private readonly ancestors = new Set<object>();

  constructor(
    private readonly maxLength: number,
    private readonly maxDepth: number,
  ) {}

  copy(value: unknown, path: JsonPath, depth: number): JsonData {
    switch (typeof value) {
      case "string":
        // The cheap bound first: a huge string is refused without being escaped.
        if (value.length + 2 > this.maxLength - this.length) throw this.tooLong(path);
        this.count(JSON.stringify(value).length, path);
        return value;
      case "number":
        if (!Number.isFinite(value)) throw new Refused(path, `${value} is not a JSON number`);
        this.count(JSON.stringify(value).length, path);
        // As JSON has it: -0 is written, and read back, as 0.
        return value === 0 ? 0 : value;
      case "boolean":
        this.count(value ? 4 : 5, path);
        return value;
      case "object":
        if (value === null) {
          this.count(4, path);
          return null;
        }
        return this.copyObject(value, path, depth);
      case "undefined":
        throw new Refused(path, "undefined is not JSON");
      default:
        throw new Refused(path, `a ${typeof value} is not JSON`);
    }
  }

  private copyObject(value: object, path: JsonPath, depth: number): JsonData {
    if (depth >= this.maxDepth) throw new Refused(path, `nests deeper than ${this.maxDepth} levels`);
    if (this.ancestors.has(value)) throw new Refused(path, "refers to itself (a circular structure)");
    const isArray = this.read(() => Array.isArray(value), path);
    if (!isArray) {
      const proto = this.read(() => Object.getPrototypeOf(value), path);
      if (proto !== Object.prototype && proto !== null) {
        throw new Refused(path, "is not a plain object or array (a Date, Map or class instance is not JSON)");
      }
    }
    this.ancestors.add(value);
    try {
      return isArray ? this.copyArray(value as unknown[], path, depth) : this.copyRecord(value, path, depth);
    } finally {
      this.ancestors.delete(value);
    }
  }

  private copyArray(array: unknown[], path: JsonPath, depth: number): JsonData[] {
    const length = this.read(() => array.length, path);
    this.count(2, path);
    const copy: JsonData[] = [];
    for (let i = 0; i < length; i++) {
      const itemPath = [...path, i];
      if (i > 0) this.count(1, itemPath);
      const item = this.read(() => array[i], itemPath);
      if (item === undefined) throw new Refused(itemPath, "undefined (or a hole) is not JSON");
      copy.push(this.copy(item, itemPath, depth + 1));
    }
    return copy;
  }

  private copyRecord(record: object, path: JsonPath, depth: number): { [key: string]: JsonData } {
    const keys = this.read(() => Object.keys(record), path);
    this.count(2, path);
    const copy: { [key: string]: JsonData } = {};
    let first = true;
    for (const key of keys) {
      const keyPath = [...path, key];
      const item = this.read(() => (record as Record<string, unknown>)[key], keyPath);
      if (item === undefined) continue;
      // key, quotes, colon, and the comma before every entry but the first.
      this.count(JSON.stringify(key).length + 1 + (first ? 0 : 1), keyPath);
      first = false;
      // defineProperty, so that a key named __proto__ stays data and never sets a prototype.
      Object.defineProperty(copy, key, {
        value: this.copy(item, keyPath, depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return copy;
  }

  /** Runs a read that a getter or a Proxy trap may make throw. */
  private read<T>(get: () => T, path: JsonPath): T {
    try {
      return get();
    } catch {
      throw new Refused(path, "could not be read (a getter or Proxy trap threw)");
    }
  }

  private count(characters: number, path: JsonPath): void {
    this.length += characters;
    if (this.length > this.maxLength) throw this.tooLong(path);
  }

  private tooLong(path: JsonPath): Refused {
    return new Refused(path, `makes the value longer than ${this.maxLength} characters as JSON`);
  }
}
