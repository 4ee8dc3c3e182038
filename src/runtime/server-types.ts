import type { ExitReason } from "./exit-reason.js";
import type { From } from "./pending-call.js";

/**
 * What the runtime calls on a server, whatever its message types: the shape every GenServer
 * has. Written out here (rather than as `GenServer<any, …>`) so that the runtime needs nothing
 * from the GenServer class, which itself depends on the Runtime.
 */
export interface AnyServer {
  // biome-ignore-start lint/suspicious/noExplicitAny: the widest server type: any server fits
  readonly __args: any;
  init?(args: any): unknown;
  handleCall?(message: any, from: From<any>): unknown;
  handleCast?(message: any): unknown;
  handleInfo?(message: any): unknown;
  // biome-ignore-end lint/suspicious/noExplicitAny: the widest server type: any server fits
  terminate?(reason: ExitReason): unknown;
}

export type CallOf<S> = S extends { readonly __call: infer C } ? C : unknown;
export type ReplyOf<S> = S extends { readonly __reply: infer R } ? R : unknown;
export type CastOf<S> = S extends { readonly __cast: infer C } ? C : unknown;
export type InfoOf<S> = S extends { readonly __info: infer I } ? I : unknown;
export type ArgsOf<S> = S extends { readonly __args: infer A } ? A : unknown;
