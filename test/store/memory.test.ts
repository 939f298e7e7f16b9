import { MemoryStore } from "../../src/index.js";
import { describeStoreConformance } from "./conformance.js";

describeStoreConformance("MemoryStore", {
  open: async (options) => new MemoryStore(options),
});
