/**
 * The house rules of src/, read from the real imports (see DESIGN.md, "Dependency direction"):
 * folders are entered only through their index.ts; each top-level folder depends only on the
 * folders below it; no cycles; hosts do not import their plug-ins; and nothing third-party but
 * zod and eventemitter3 is loaded just by importing tracetrain — frameworks the tracer instruments
 * and native drivers are loaded when used, from the application's own copy.
 */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { type ImportEdge, cycles, enteredFolder, readImports, roomOf } from "./imports.js";

const src = fileURLToPath(new URL("../../src", import.meta.url));
const edges = readImports(src);
const internal = edges.filter((e) => e.internal);
const show = (e: ImportEdge) => `${e.from}:${e.line} → ${e.to}`;

/** What each top-level folder may import (besides itself). The ground floor comes first. */
const ALLOWED: Record<string, readonly string[]> = {
  types: [],
  util: ["types"],
  llm: ["types", "util"],
  otlp: ["types", "util"],
  http: ["types", "util"],
  adapters: ["types", "util", "llm"],
  store: ["types", "util", "http"],
  tracer: ["types", "util", "llm", "otlp"],
  runner: ["types", "util", "store", "tracer"],
  gateway: ["types", "util", "llm", "http", "store", "tracer"],
  server: ["types", "util", "http", "otlp", "store", "adapters"],
  // Browser code, compiled on its own (DOM, no Node): it may import nothing else of src/.
  dashboard: [],
  algorithms: ["types", "util", "llm", "http", "store", "adapters", "gateway"],
  trainer: ["types", "util", "store", "tracer", "runner", "adapters", "algorithms", "server"],
  // The backend conformance suite checks TrainingBackends against the protocol's schemas.
  testing: ["types", "util", "llm", "http", "store", "algorithms"],
  demo: ["types", "util", "store", "runner", "trainer", "algorithms"],
  cli: ["types", "util", "llm", "http", "store", "tracer", "runner", "gateway", "server", "adapters", "algorithms", "trainer", "demo"],
  entries: ["types", "util", "llm", "http", "otlp", "store", "tracer", "runner", "gateway", "server", "adapters", "algorithms", "trainer", "testing"],
  ".": ["types", "util", "store", "tracer", "runner", "adapters", "algorithms", "trainer"],
};

/** Packages src/ may import at module load. Everything else is type-only, or loaded when used. */
const LOADED_WITH_TRACETRAIN = new Set(["zod", "eventemitter3"]);

describe("src/ layout", () => {
  it("reads a realistic number of imports (the reader works)", () => {
    expect(internal.length).toBeGreaterThan(300);
    expect(edges.some((e) => e.typeOnly)).toBe(true);
    expect(edges.some((e) => e.dynamic)).toBe(true);
  });

  it("enters every folder only through its index.ts", () => {
    const violations = internal.filter((e) => {
      const folder = enteredFolder(e.from, e.to);
      return folder !== undefined && e.to !== `${folder}/index.ts`;
    });
    expect(violations.map(show)).toEqual([]);
  });

  it("has a rule for every top-level folder", () => {
    const rooms = new Set(edges.map((e) => roomOf(e.from)));
    expect([...rooms].filter((room) => !(room in ALLOWED))).toEqual([]);
  });

  it("imports only downwards: each folder depends only on the folders its rule allows", () => {
    const violations = internal.filter((e) => {
      const [from, to] = [roomOf(e.from), roomOf(e.to)];
      return from !== to && !ALLOWED[from]?.includes(to);
    });
    expect(violations.map((e) => `${show(e)} (${roomOf(e.from)} may not import ${roomOf(e.to)})`)).toEqual([]);
  });

  it("has no cycle between folders, counting type-only imports", () => {
    const graph = new Map<string, Set<string>>();
    for (const e of internal) {
      const [from, to] = [roomOf(e.from), roomOf(e.to)];
      if (from === to) continue;
      if (!graph.has(from)) graph.set(from, new Set());
      graph.get(from)!.add(to);
    }
    expect(cycles(graph)).toEqual([]);
  });

  it("has no cycle between files that exists at run time", () => {
    const graph = new Map<string, Set<string>>();
    for (const e of internal) {
      if (e.typeOnly) continue;
      if (!graph.has(e.from)) graph.set(e.from, new Set());
      graph.get(e.from)!.add(e.to);
    }
    expect(cycles(graph)).toEqual([]);
  });

  it("keeps hosts ignorant of their plug-ins: the store server imports no route, the tracer no instrumentation but through its registry", () => {
    // Its own options schema is the host's, not a plug-in.
    const hostImports = internal.filter((e) => e.from === "server/store-server.ts" && roomOf(e.to) === "server" && e.to !== "server/options.ts");
    expect(hostImports.map(show)).toEqual([]);
    const intoInstrumentations = internal.filter((e) => e.to.startsWith("tracer/instrumentations/") && !e.from.startsWith("tracer/instrumentations/") && e.to !== "tracer/instrumentations/index.ts");
    expect(intoInstrumentations.map(show)).toEqual([]);
  });

  it("reaches the demo only lazily (it needs the openai package)", () => {
    const eager = internal.filter((e) => roomOf(e.to) === "demo" && roomOf(e.from) !== "demo" && !e.dynamic && !e.typeOnly);
    expect(eager.map(show)).toEqual([]);
  });

  it("loads no third-party package at import time but zod and eventemitter3", () => {
    const eager = edges.filter(
      (e) => !e.internal && !e.typeOnly && !e.dynamic && !e.to.startsWith("node:") && !LOADED_WITH_TRACETRAIN.has(e.to) && roomOf(e.from) !== "demo",
    );
    expect(eager.map(show)).toEqual([]);
  });
});
