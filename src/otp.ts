// `sessionvisor/otp`: the OTP half of the package alone — processes and gen servers (runtime),
// supervisors, and the registry with its pub/sub — without the session, model, tool or host
// layers. The same classes as the package's root export: mixing imports from both is fine.

export * from "./registry/index.js";
export * from "./runtime/index.js";
export * from "./supervision/index.js";
