import { MemorySessionStore } from "./memory-store.js";
import { describeSessionStoreConformance } from "./store-conformance.js";

describeSessionStoreConformance("memory", async () => new MemorySessionStore());
