import { MemoryStore } from "tracetrain/store";
import * as vitest from "vitest";
import { describeStoreConformance } from "tracetrain/testing";

describeStoreConformance("MemoryStore", {
  open: async (options) => new MemoryStore(options),
}, vitest);
