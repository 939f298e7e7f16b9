/**
 * The Agents SDK instrumentation when the SDK is missing or broken. A file of its own: it swaps
 * the module that finds package copies, which needs a fresh module registry.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { removeScratch, scratchFolder } from "./package-copy.js";

describe("OpenAI Agents SDK instrumentation without the SDK", () => {
  it("resolves installed: false when the SDK is not installed, or its copy cannot be loaded", async () => {
    // A copy of @openai/agents whose entry throws, and no @openai/agents-core anywhere.
    const scratch = scratchFolder("tracer-agents-broken");
    const broken = join(scratch, "node_modules", "@openai", "agents");
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, "package.json"), JSON.stringify({ name: "@openai/agents", version: "0.0.0-broken", type: "module", exports: { ".": "./index.js" } }));
    writeFileSync(join(broken, "index.js"), 'throw new Error("broken on purpose");\n');
    const copies = "../../src/tracer/instrumentations/package-copies.js";
    vi.doMock(copies, async (importOriginal) => {
      const original = await importOriginal<typeof import("../../src/tracer/instrumentations/package-copies.js")>();
      return { ...original, findPackageCopies: (name: string) => (name === "@openai/agents" ? [{ name, root: broken, version: "0.0.0-broken" }] : []) };
    });
    try {
      const { createAgentsInstrumentation: withoutSdk } = await import("../../src/tracer/instrumentations/agents.js");
      expect(await withoutSdk().install()).toEqual({
        installed: false,
        reason: expect.stringMatching(/^the OpenAI Agents SDK is not available: @openai\/agents 0\.0\.0-broken \(.*\) could not be loaded \(broken on purpose\); @openai\/agents-core is not installed$/),
      });
    } finally {
      vi.doUnmock(copies);
      removeScratch(scratch);
    }
  });
});
