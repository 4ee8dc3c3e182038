// `sessionvisor/testing`: what a test of code built on sessionvisor, or an outside author of a
// model provider or a session store, needs. It imports node:test, so it is a subpath of its own:
// a program that imports the package's root never loads the test runner.

export {
  ABORT_PROMPTLY_MS,
  CONFORMANCE_TOOL,
  describeProviderConformance,
  type ProviderConformanceOptions,
} from "./llm/provider-conformance.js";
export { ManualClock, settle } from "./runtime/index.js";
export { describeSessionStoreConformance } from "./store/store-conformance.js";
