// The public API of sessionvisor. Everything a user may import is exported from here.

export * from "./hosts/index.js";
export * from "./llm/index.js";
export * from "./registry/index.js";
export * from "./runtime/index.js";
export * from "./server/index.js";
export * from "./session/index.js";
export * from "./store/index.js";
export * from "./supervision/index.js";
export * from "./tools/index.js";
