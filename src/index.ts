// The public API of sessionvisor. Everything a user may import is exported from here.

export * from "./registry/index.js";
export * from "./runtime/index.js";
export * from "./supervision/index.js";
