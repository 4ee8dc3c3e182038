import type { CodeCache, HostCodeState } from "./host-code.js";

/**
 * The messages a host and its parent exchange. Pids and refs travel as their text form;
 * payloads and reasons travel encoded by `encodeTerm`.
 */
export type Frame =
  // host → parent, once: the host's runtime is up; `tid` is its OS thread (Linux), whose
  // children the parent reaps when it kills a thread host; `code`: how it loaded the library
  | { t: "ready"; node: string; code: HostCodeState; tid?: number }
  // host → parent, at most once, after its first root started: the code cache of a host that
  // compiled the library, for the hosts started after it (host-code.ts)
  | { t: "code"; cache: CodeCache }
  // parent → host: start the subtree's root; answered by `spawned`
  | {
      t: "spawn";
      id: number;
      label: string;
      module: string;
      export: string;
      args: unknown;
      parent: string;
      trapExit: boolean;
    }
  | { t: "spawned"; id: number; ok: true; pid: string }
  | { t: "spawned"; id: number; ok: false; error: unknown }
  | {
      t: "call";
      id: number;
      from: string | undefined;
      to: string;
      name: boolean;
      message: unknown;
      timeoutMs: number;
    }
  | { t: "reply"; id: number; ok: true; value: unknown }
  | { t: "reply"; id: number; ok: false; error: unknown }
  | { t: "cast"; to: string; name: boolean; message: unknown }
  | { t: "send"; from: string; to: string; name: boolean; message: unknown }
  | { t: "exit"; from: string; to: string; name: boolean; reason: unknown }
  | { t: "link"; from: string; to: string }
  | { t: "unlink"; from: string; to: string }
  | { t: "link_exit"; from: string; to: string; reason: unknown }
  | { t: "monitor"; ref: string; to: string; name: boolean }
  | { t: "demonitor"; ref: string }
  | { t: "down"; ref: string; pid: string; reason: unknown }
  // host → parent: registry keys of the host's processes, mirrored in the parent's registry
  | { t: "register"; key: string; pid: string }
  | { t: "unregister"; key: string; pid: string; reason: unknown }
  // host → parent: a request to a service the parent provides (its store, its event bus)
  | { t: "service"; id: number; service: string; method: string; args: unknown }
  | { t: "service_reply"; id: number; ok: true; value: unknown }
  | { t: "service_reply"; id: number; ok: false; error: unknown }
  // host → parent: a call to a service that nobody waits on (`context.notify`): never answered
  | { t: "notify"; service: string; method: string; args: unknown }
  // host → parent, periodically: alive, and how much memory it uses
  | { t: "heartbeat"; memory: HostMemory }
  // parent → host: stop every process and exit
  | { t: "stop" }
  // host → parent, last: an uncaught error (or a full heap) ends the host; `words` names it
  | { t: "fatal"; how: "error" | "out_of_memory"; words: string }
  // parent → host: the parent has handled this many of the host's frames in all (flow control)
  | { t: "ack"; handled: number }
  // host → parent, last: the host has more in flight than its budget; the parent stops it
  | { t: "flood"; frames: number; bytes: number; budget: number };

export interface HostMemory {
  /** V8 heap in use by the host's isolate, in bytes. */
  heapUsed: number;
  /** The heap limit the host runs under, in bytes. */
  heapLimit: number;
  /** Memory held outside the V8 heap (Buffers, ArrayBuffers), in bytes. */
  external: number;
  /** Resident set of the whole OS process, in bytes (for a thread host, shared with its parent). */
  rss: number;
}
