/**
 * GEPA end to end on the room-selector example agent (openai SDK, tool calls, real tracer and
 * store) against the mock LLM over HTTP: a prompt-sensitive agent model and a reflection model that
 * proposes rules only from the failed runs the reflective dataset shows it
 * (examples/room-selector/simulation/models.ts).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type OpenAI from "openai";
import { afterAll, describe, expect, it, vi } from "vitest";
import { ValidationError } from "tracetrain";
import { SqliteStore } from "tracetrain/store";
import { GEPA, type GEPAOptions, type GEPAResult } from "../../src/algorithms/gepa/index.js";
import { RULES } from "../../examples/room-selector/simulation/rules.js";
import { startMockLlm } from "tracetrain/testing";
import { SEED_PROMPTS } from "../../examples/room-selector/agent.js";
import { freePort, startOptimizerRun } from "../support/processes.js";
import { GEPA_RUN_OPTIONS } from "./fixtures/gepa-run-options.js";
import { combinedResponder, type RigOptions, type RigRun, runRoomAlgorithm } from "../support/room-apo.js";

function runGepa(options: Omit<GEPAOptions, "client">, rig: RigOptions = {}): Promise<RigRun<GEPAResult>> {
  return runRoomAlgorithm((client) => new GEPA({ model: "mock-optimizer", ...options, client }), rig);
}

function rulesIn(template: string): string[] {
  return RULES.filter((rule) => template.includes(rule.sentence)).map((rule) => rule.id);
}

const dir = mkdtempSync(join(tmpdir(), "tracetrain-gepa-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const systemOf = (resources: Record<string, unknown>) => (resources.system as { template: string }).template;

describe("GEPA", () => {
  it("evolves the system prompt from the traces, keeps only children that beat their parent, and says which budget stopped it", async () => {
    const run = await runGepa({ seed: 1, runId: "evolve", minibatchSize: 3, paretoTasks: 12, maxRollouts: 120 });
    const { result } = run;
    if (process.env.GEPA_DEBUG) console.log(JSON.stringify({ proposals: result.proposals.map(({ gate: _g, ...p }) => p), pool: result.pool.map(({ feedback: _f, ...p }) => p), best: result.best.score, seed: result.seed.score, stop: result.stopDetail, spend: result.spend.rollouts }, null, 1));
    expect(result.stoppedBecause).toBe("maxRollouts");
    expect(result.stopDetail).toMatch(/^the maxRollouts budget left no room for .+, after \d+ proposal\(s\), \d+ accepted$/);
    expect(result.spend.rollouts).toBeLessThanOrEqual(120);
    // More than one proposal was made, and the budget, not a silent end, stopped the run.
    expect(result.proposals.length).toBeGreaterThan(1);
    // Both prompts shaped the agent's calls, so both are evolved, round-robin.
    expect(result.components).toEqual({ evolved: ["system", "request"], fixed: [] });
    expect(new Set(result.proposals.map((p) => p.component))).toEqual(new Set(["system", "request"]));
    // The agent reads its rules from the system prompt only: rewriting the request template changes nothing, and ties do not pass.
    const requestEdits = result.proposals.filter((p) => p.component === "request" && p.gate);
    expect(requestEdits.length).toBeGreaterThan(0);
    for (const p of requestEdits) expect(p).toMatchObject({ status: "rejected-by-gate", gate: { accepted: false } });
    const accepted = result.proposals.filter((p) => p.status === "accepted");
    expect(accepted.length).toBeGreaterThan(0);
    for (const p of accepted) {
      expect(p.component).toBe("system");
      expect(p.gate!.childMean).toBeGreaterThan(p.gate!.parentMean);
    }
    // The best beats the seed on the Pareto tasks, and states rules the seed did not.
    expect(result.best.candidateId).not.toBe("seed");
    expect(result.best.paretoScore).toBeGreaterThan(result.seed.paretoScore);
    expect(result.best.paretoN).toBe(12);
    // The verdict is measured on the third of val the search never saw (13 of 38 tasks), paired.
    expect(result.heldOut).toEqual({ source: "val", n: 13 });
    expect(result.best.n).toBe(13);
    expect(result.seed.n).toBe(13);
    expect(result.verdict).toBe("improved");
    expect(result.improvement!.mean - result.improvement!.ci95).toBeGreaterThan(0);
    expect(result.summary).toMatch(/Final check: improved: c\d+ beats the seed by \+[\d.]+ ± [\d.]+ \(95% CI, paired over 13 held-out validation task\(s\)\)/);
    expect(rulesIn(systemOf(result.best.resources)).length).toBeGreaterThanOrEqual(2);
    expect(result.seed.resourcesId).toBe("evolve.seed");
    expect(rulesIn(systemOf((await run.store.getResources("evolve.seed")).resources))).toEqual([]);
    expect(result.published).toEqual({ resourcesId: "evolve.best", candidate: result.best.candidateId });
    expect((await run.store.getResources("evolve.best")).resources).toEqual(result.best.resources);
    // Lineage: every pool member but the seed names its parent, the component it changed and the feedback behind it.
    const best = result.pool.find((p) => p.candidateId === result.best.candidateId)!;
    expect(best.parents).toHaveLength(1);
    expect(best.component).toBe("system");
    // It read the parent's minibatch (3 runs) and, from the second proposal on, earlier training runs of that parent.
    expect(best.feedback!.rollouts.length).toBeGreaterThanOrEqual(3);
    expect(best.feedback!.text).toContain("### Run 1: reward");
    expect(result.pool.filter((p) => p.onFront).length).toBeGreaterThan(0);
    // The reflection model read the traces: tool calls, tool results, rewards.
    // A parent that is already perfect on its minibatch gets no reflection call.
    for (const p of result.proposals.filter((p) => p.status === "skipped")) expect(p).toMatchObject({ parentScore: 1, detail: expect.stringContaining("nothing to reflect on") });
    const reflections = run.optimizerPrompts.filter((p) => p.includes("Return the complete new template"));
    expect(reflections).toHaveLength(result.proposals.filter((p) => p.status !== "skipped").length);
    expect(reflections[0]).toContain("get_rooms_and_availability(");
    expect(reflections[0]).toContain("[tool result");
  });

  it("is reproducible: the same seed gives the same run", async () => {
    const options = { seed: 5, minibatchSize: 3, paretoTasks: 8, maxRollouts: 80 } as const;
    const [a, b] = [await runGepa(options), await runGepa(options)];
    expect(b.result.proposals).toEqual(a.result.proposals);
    expect(b.result.best.resources.system).toEqual(a.result.best.resources.system);
    expect(b.result.best.resources.request).toEqual(a.result.best.resources.request);
    expect(b.result.spend.rollouts).toBe(a.result.spend.rollouts);
    expect(b.optimizerPrompts).toEqual(a.optimizerPrompts);
  });

  it("rejects every useless rewrite at the gate and keeps the seed as the best", async () => {
    const run = await runGepa({ seed: 2, minibatchSize: 3, paretoTasks: 8, maxProposals: 4 }, { optimizer: { mode: "useless" } });
    expect(run.result.stoppedBecause).toBe("completed");
    expect(run.result.stopDetail).toBe("made all 4 proposals (maxProposals)");
    expect(run.result.proposals).toHaveLength(4);
    for (const p of run.result.proposals) expect(p.status).toBe("rejected-by-gate");
    expect(run.result.best.candidateId).toBe("seed");
    expect(run.result.published).toEqual({ resourcesId: `${run.result.runId}.best`, candidate: "seed" });
    expect(run.result.summary).toMatch(/^no candidate beat the seed/);
  });

  it("stops on the optimizer-token budget and says so", async () => {
    const run = await runGepa({ seed: 3, minibatchSize: 3, paretoTasks: 6, maxOptimizerTokens: 12_000 });
    expect(run.result.stoppedBecause).toBe("maxOptimizerTokens");
    expect(run.result.stopDetail).toMatch(/maxOptimizerTokens budget left no room for proposal \d+'s reflection call/);
    expect(run.result.spend.optimizerTokens.input + run.result.spend.optimizerTokens.output).toBeLessThanOrEqual(12_000);
  });

  it("stops on the dollar budget, counting the reflection calls at the prices given", async () => {
    const prices = { "mock-optimizer": { input: 0.1, output: 0.1 } };
    const run = await runGepa({ seed: 3, minibatchSize: 3, paretoTasks: 6, prices, maxUsd: 0.002 });
    if (process.env.GEPA_DEBUG) console.log(run.result.stopDetail, JSON.stringify(run.result.spend), run.result.proposals.length);
    expect(run.result.stoppedBecause).toBe("maxUsd");
    expect(run.result.stopDetail).toMatch(/^the maxUsd budget left no room for/);
    expect(run.result.spend.usd.total).toBeGreaterThan(0);
    expect(run.result.spend.usd.total).toBeLessThanOrEqual(0.002);
  });

  it("gives up, saying why, when the reflection model keeps failing", async () => {
    const failing = () => ({ chat: { completions: { create: () => Promise.reject(new Error("503 upstream unavailable")) } } });
    await expect(runGepa({ seed: 1, minibatchSize: 3, paretoTasks: 4 }, { wrapClient: failing })).rejects.toThrow(/the last 3 reflection calls failed; the last error: 503 upstream unavailable/);
  });

  it("refuses a rollout budget too small for the seed's score and one proposal, with the arithmetic", async () => {
    await expect(runGepa({ paretoTasks: 10, minibatchSize: 3, maxRollouts: 12 })).rejects.toThrow(ValidationError);
    await expect(runGepa({ paretoTasks: 10, minibatchSize: 3, maxRollouts: 12 })).rejects.toThrow(/maxRollouts: 12 is too few.*final check 26 \(the best and the seed on 13 held-out tasks\), so at least 42/);
  });

  it("names components that are not prompt templates in the error", async () => {
    await expect(runGepa({ components: ["main"] })).rejects.toThrow(/components\[0\]: 'main' is a 'llm' resource, not a prompt_template/);
  });

  it("evolves only the templates the agent's calls showed, and reports the others as fixed", async () => {
    const llm = await startMockLlm({ responder: combinedResponder() });
    try {
      const initialResources = {
        ...SEED_PROMPTS,
        farewell: { kind: "prompt_template", template: "Thank you for booking with us, {{name}}. Have a good meeting." },
        main: { kind: "llm", baseUrl: llm.baseUrl, model: "room-agent" },
      };
      const run = await runGepa({ seed: 4, minibatchSize: 3, paretoTasks: 6, maxProposals: 3 }, { llm, initialResources });
      expect(run.result.components).toEqual({ evolved: ["system", "request"], fixed: [{ name: "farewell", why: "never seen in the agent's LLM calls" }] });
      expect(run.warnings.some((w) => w.includes("not evolved: farewell (never seen in the agent's LLM calls)"))).toBe(true);
      expect(run.result.proposals.every((p) => p.component !== "farewell")).toBe(true);
    } finally {
      await llm.close();
    }
  });

  it("resumes a crashed run from the store and ends where the uninterrupted run ends", async () => {
    const options = { seed: 5, minibatchSize: 3, paretoTasks: 8, maxRollouts: 90, runId: "gepa-resumable" } as const;
    const reference = await runGepa(options);
    // The first attempt loses the reflection model after two calls and gives up after three failures.
    const path = join(dir, "gepa-resume.db");
    let calls = 0;
    const dying = (client: OpenAI) => ({
      chat: {
        completions: {
          create: (...args: Parameters<OpenAI["chat"]["completions"]["create"]>) => {
            if (++calls > 2) return Promise.reject(new Error("connect ECONNREFUSED"));
            return client.chat.completions.create(...args) as never;
          },
        },
      },
    });
    const llm = await startMockLlm({ responder: combinedResponder() });
    let resumed: RigRun<GEPAResult>;
    try {
      await expect(runGepa(options, { llm, store: new SqliteStore(path), wrapClient: dying })).rejects.toThrow(/the last 3 reflection calls failed; the last error: connect ECONNREFUSED/);
      // Another set-up (a new endpoint) would mix measurements: refused.
      await expect(runGepa(options, { store: new SqliteStore(path) })).rejects.toThrow(/GEPA run 'gepa-resumable' started with other resources than the trainer gives now \(main changed\)/);
      resumed = await runGepa(options, { llm, store: new SqliteStore(path) });
    } finally {
      await llm.close();
    }
    expect(resumed.result.reusedRollouts).toBeGreaterThan(0);
    expect(resumed.agentCalls).toBeLessThan(reference.agentCalls);
    expect(resumed.optimizerCalls).toBeLessThan(reference.optimizerCalls);
    expect(resumed.result.proposals.some((p) => p.reused)).toBe(true);
    const strip = (proposals: GEPAResult["proposals"]) => proposals.map(({ reused: _reused, ...p }) => p);
    expect(strip(resumed.result.proposals)).toEqual(strip(reference.result.proposals));
    expect(resumed.result.best.candidateId).toBe(reference.result.best.candidateId);
    expect(resumed.result.best.resources.system).toEqual(reference.result.best.resources.system);
    expect(resumed.result.best.resources.request).toEqual(reference.result.best.resources.request);
    expect(resumed.result.spend.rollouts).toBe(reference.result.spend.rollouts);
    expect(resumed.result.spend.optimizerTokens).toEqual(reference.result.spend.optimizerTokens);
  });

  it("stops on Ctrl-C without publishing, and the next run with its runId finishes as an uninterrupted run would", async () => {
    const reference = await runGepa(GEPA_RUN_OPTIONS);
    const path = join(dir, "gepa-ctrl-c.db");
    const port = await freePort();
    const start = () => startOptimizerRun("gepa", path, port);
    const first = start();
    await vi.waitFor(() => expect(first.out.text).toMatch(/GEPA proposal 3\/8/), { timeout: 60_000, interval: 20 });
    first.child.kill("SIGINT");
    expect(await first.exited, first.out.text).toBe(0);
    const stopped = first.result();
    expect(stopped).toMatchObject({ interrupted: true, stoppedBecause: "interrupted", published: null });
    expect(stopped.summary).toMatch(/^interrupted: nothing was published/);

    const second = start();
    expect(await second.exited, second.out.text).toBe(0);
    const resumed = second.result();
    expect(resumed).toMatchObject({ interrupted: false, stoppedBecause: reference.result.stoppedBecause, best: reference.result.best.candidateId });
    expect(resumed.reused).toBeGreaterThan(0);
    expect(resumed.system).toBe(systemOf(reference.result.best.resources));
    expect(resumed.published).toEqual({ resourcesId: "gepa-ctrl-c.best", candidate: reference.result.best.candidateId });
  }, 90_000);
});
