/** Returned from `handleCall` to answer later through `from.reply(...)`. */
export const NoReply: unique symbol = Symbol("sessionvisor.noreply");
export type NoReply = typeof NoReply;

/** Returned from `init` to not start (OTP's `ignore`): the spawn rejects with reason `ignore`. */
export const Ignore: unique symbol = Symbol("sessionvisor.ignore");
export type Ignore = typeof Ignore;
