/**
 * APO end to end: the room-selector example agent (openai SDK, tool calls, real tracer and store)
 * against the mock LLM serving a prompt-sensitive agent model and a deterministic optimizer model
 * (examples/room-selector/simulation/models.ts).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type OpenAI from "openai";
import { APO, TracetrainError, ValidationError } from "tracetrain";
import { PromptTemplate } from "tracetrain/schemas";
import { SqliteStore } from "tracetrain/store";
import { afterAll, describe, expect, it, vi } from "vitest";
import { startMockLlm } from "tracetrain/testing";
import { freePort, startOptimizerRun } from "../support/processes.js";
import { APO_RUN_OPTIONS } from "./fixtures/apo-run-options.js";
import { combinedResponder, runApo, train, val } from "../support/room-apo.js";
import { RULES } from "../../examples/room-selector/simulation/rules.js";

const dir = mkdtempSync(join(tmpdir(), "tracetrain-apo-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SMALL = { rounds: 2, beamWidth: 2, branchFactor: 2, gradientBatchSize: 4, evaluation: { maxTasks: 16 } } as const;

function rulesIn(template: string): string[] {
  return RULES.filter((rule) => template.includes(rule.sentence)).map((rule) => rule.id);
}

function systemOf(resources: Record<string, unknown>): string {
  return (resources.system as { template: string }).template;
}

describe("APO", () => {
  it("finds the edits that state the missing rules, proves the gain and publishes the best prompt", async () => {
    const run = await runApo({ rounds: 3, seed: 1, runId: "find" });
    const { result } = run;
    expect(result.verdict).toBe("improved");
    expect(result.stoppedBecause).toBe("completed");
    expect(result.best.score).toBeGreaterThan(result.seed.score + 0.5);
    expect(result.improvement!.significant).toBe(true);
    expect(result.improvement!.mean - result.improvement!.ci95).toBeGreaterThan(0);
    // The final check ran the best and the seed on the same held-out tasks: a third of val, kept from the search.
    expect(result.heldOut).toEqual({ source: "val", n: Math.ceil(val.length / 3) });
    expect(result.best.n).toBe(Math.ceil(val.length / 3));
    expect(result.seed.n).toBe(Math.ceil(val.length / 3));
    // The winning system prompt states rules it did not before; the request template is untouched.
    expect(rulesIn(systemOf(result.best.resources)).length).toBeGreaterThanOrEqual(3);
    expect(result.best.resources.request).toEqual({ kind: "prompt_template", template: expect.stringContaining("{{date}}"), engine: "mustache" });
    // Published as a named version, which is also the latest: what the agent runs with next.
    expect(result.published).toEqual({ resourcesId: "find.best", candidate: result.best.candidateId });
    const published = await run.store.getResources("find.best");
    expect(published.resources).toEqual(result.best.resources);
    expect(run.fit.resources?.resourcesId).toBe("find.best");
    expect(result.history.map((h) => h.round)).toEqual([1, 2, 3]);
    // The optimizer read the traces: tool calls and their results, through the adapter.
    const critiques = run.optimizerPrompts.filter((p) => p.includes("TARGET"));
    expect(critiques.length).toBeGreaterThan(0);
    expect(critiques[0]).toContain("get_rooms_and_availability(");
    expect(critiques[0]).toContain("[tool result");
    expect(critiques[0]).toMatch(/### Run 1: reward 0/);
    expect(result.spend.optimizerTokens.input).toBeGreaterThan(1000);
    // Each optimizer call: the chosen model, a bounded answer, its own seed, and no temperature unless asked.
    for (const body of run.optimizerBodies) {
      expect(body).toMatchObject({ model: "mock-optimizer", max_completion_tokens: 2048, seed: expect.any(Number) });
      expect(body).not.toHaveProperty("temperature");
    }
    expect(new Set(run.optimizerBodies.map((b) => b.seed)).size).toBe(run.optimizerBodies.length);
  });

  it("is reproducible: the same seed gives the same run", async () => {
    const [a, b] = [await runApo({ ...SMALL, seed: 7 }), await runApo({ ...SMALL, seed: 7 })];
    expect(b.result.history).toEqual(a.result.history);
    expect(b.result.best.resources.system).toEqual(a.result.best.resources.system);
    expect(b.result.best.resources.request).toEqual(a.result.best.resources.request);
    expect(b.result.spend.rollouts).toBe(a.result.spend.rollouts);
    expect(b.optimizerPrompts).toEqual(a.optimizerPrompts);
  });

  it("uses fewer rollouts with successive halving than with full-batch evaluation, for the same final choice", async () => {
    const common = { rounds: 3, beamWidth: 4, branchFactor: 4, gradientBatchSize: 4, seed: 3 } as const;
    const bandit = await runApo({ ...common, evaluation: { strategy: "successive-halving", maxTasks: 16 } });
    const full = await runApo({ ...common, evaluation: { strategy: "full", maxTasks: 16 } });
    expect(bandit.result.best.score).toBe(full.result.best.score);
    expect(rulesIn(systemOf(bandit.result.best.resources)).sort()).toEqual(rulesIn(systemOf(full.result.best.resources)).sort());
    expect(bandit.result.spend.rollouts).toBeLessThan(full.result.spend.rollouts);
    expect(bandit.result.evaluation.rollouts).toBeLessThan(full.result.evaluation.rollouts);
    // It reports what it saved against running every candidate on every task it judged on.
    expect(bandit.result.evaluation.saved).toBe(bandit.result.evaluation.fullCost - bandit.result.evaluation.rollouts);
    expect(bandit.result.evaluation.saved).toBeGreaterThan(0);
    expect(full.result.evaluation.saved).toBe(0);
  });

  it("says 'no significant improvement' and publishes the seed when the optimizer cannot help", async () => {
    const run = await runApo({ ...SMALL, runId: "useless" }, { optimizer: { mode: "useless" } });
    expect(run.result.verdict).toBe("no significant improvement");
    expect(run.result.summary).toMatch(/^no significant improvement/);
    expect(run.result.improvement).toBeNull();
    expect(run.result.best.candidateId).toBe("seed");
    expect(run.result.published).toEqual({ resourcesId: "useless.best", candidate: "seed" });
    // The best is the seed: the held-out check runs it once, and compares nothing.
    const check = (await run.store.queryRollouts({ idPrefix: "useless.", limit: 1000 })).items.filter((r) => r.metadata.purpose === "held-out check");
    expect(check).toHaveLength(run.result.heldOut.n);
    expect(check.every((r) => r.metadata.candidate === "seed")).toBe(true);
    expect(systemOf((await run.store.getResources("useless.best")).resources)).not.toContain("careful");
  });

  it("calls a gain inside the noise no improvement", async () => {
    // A noisy agent and useless edits: some child wins the search by luck; the final check does not confirm it.
    const run = await runApo({ ...SMALL, seed: 2, evaluation: { maxTasks: 38 } }, { optimizer: { mode: "useless" }, noise: 0.4 });
    expect(run.result.verdict).toBe("no significant improvement");
    if (run.result.improvement) {
      expect(run.result.improvement.significant).toBe(false);
      expect(run.result.summary).toContain("within the noise");
    }
    expect(run.result.published?.candidate).toBe("seed");
  });

  describe("edits that break placeholders", () => {
    const placeholders = (template: string) => new PromptTemplate(template).variables().sort();
    const seedRequest = "Date: {{date}}. Start: {{time}}. Duration: {{duration_min}} minutes. Attendees: {{attendees}}. Equipment needed: {{needs}}. Accessible room required: {{accessible_required}}.";

    it("repairs an invented placeholder into plain text", async () => {
      const run = await runApo({ ...SMALL, targets: ["request"] }, { optimizer: { mode: "add-placeholder" } });
      expect(run.result.edits.repaired).toBeGreaterThan(0);
      expect(run.result.edits.rejected).toBe(0);
      const children = run.result.history.flatMap((h) => h.children).filter((c) => c.status === "evaluated");
      expect(children.length).toBeGreaterThan(0);
      for (const child of children) {
        const request = (await run.store.getResources(`${run.result.runId}.${child.id}`)).resources.request as { template: string };
        expect(placeholders(request.template)).toEqual(placeholders(seedRequest));
        expect(request.template).toContain("Mention the day as weekday.");
      }
    });

    it("rejects an edit that drops a placeholder after one retry, and counts it", async () => {
      const run = await runApo({ ...SMALL, targets: ["request"] }, { optimizer: { mode: "drop-placeholder" } });
      const { edits } = run.result;
      expect(edits.rejected).toBe(edits.proposed);
      expect(edits.proposed).toBeGreaterThan(0);
      expect(run.result.history.flatMap((h) => h.children).every((c) => c.status === "rejected" && c.detail?.includes("dropped the placeholder(s) date"))).toBe(true);
      // Each edit was asked again with the problem stated.
      expect(run.optimizerPrompts.filter((p) => p.includes("Your previous answer could not be used: it dropped the placeholder(s) date"))).toHaveLength(edits.rejected);
      expect(run.warnings.some((w) => w.includes("rejected: it dropped the placeholder(s) date"))).toBe(true);
      expect(run.result.verdict).toBe("no significant improvement");
    });
  });

  describe("budgets", () => {
    it("stops at maxRollouts, having kept the final check inside it", async () => {
      const run = await runApo({ ...SMALL, rounds: 10, maxRollouts: 120, runId: "capped" });
      expect(run.result.stoppedBecause).toBe("maxRollouts");
      expect(run.result.spend.rollouts).toBeLessThanOrEqual(120);
      const stored = await run.store.queryRollouts({ idPrefix: "capped.", limit: 1000 });
      expect(stored.items.length).toBeLessThanOrEqual(120);
      expect(run.result.verdict).not.toBe("not checked");
      expect(run.warnings.some((w) => w.includes("the maxRollouts budget is reached"))).toBe(true);
    });

    it("stops before the optimizer passes maxOptimizerTokens", async () => {
      const run = await runApo({ ...SMALL, rounds: 10, maxOptimizerTokens: 20_000 });
      expect(run.result.stoppedBecause).toBe("maxOptimizerTokens");
      const { input, output } = run.result.spend.optimizerTokens;
      expect(input + output).toBeLessThanOrEqual(20_000);
      expect(input).toBeGreaterThan(5_000);
    });

    it("stops before spending more than maxUsd, counting the agent's own calls", async () => {
      const prices = { "mock-optimizer": { input: 100, output: 400 }, "room-agent": { input: 50, output: 200 } };
      const run = await runApo({ ...SMALL, rounds: 10, maxUsd: 8, prices });
      expect(run.result.stoppedBecause).toBe("maxUsd");
      expect(run.result.spend.usd.total).toBeLessThanOrEqual(8);
      expect(run.result.spend.usd.rollouts).toBeGreaterThan(0);
      expect(run.result.spend.usd.optimizer).toBeGreaterThan(0);
      expect(run.result.spend.unpricedModels).toEqual([]);
    });
  });

  it("resumes a crashed run from the store without running again what it had done", async () => {
    const options = { ...SMALL, rounds: 3, seed: 5, runId: "resumable" } as const;
    let resumed: Awaited<ReturnType<typeof runApo>>;
    const reference = await runApo(options);

    // The first attempt dies in round 2: the optimizer's endpoint goes away after five calls.
    const path = join(dir, "resume.db");
    let calls = 0;
    const dying = (client: OpenAI) => ({
      chat: {
        completions: {
          create: (...args: Parameters<OpenAI["chat"]["completions"]["create"]>) => {
            if (++calls > 5) return Promise.reject(new Error("connect ECONNREFUSED"));
            return client.chat.completions.create(...args) as never;
          },
        },
      },
    });
    const llm = await startMockLlm({ responder: combinedResponder({}) });
    try {
      const outage = runApo(options, { llm, store: new SqliteStore(path), wrapClient: dying });
      await expect(outage).rejects.toThrow(/every optimizer call of the round failed.*ECONNREFUSED/);
      await expect(outage).rejects.toMatchObject({ code: "unavailable", details: { firstError: expect.stringMatching(/ECONNREFUSED/) } });
      await expect(outage).rejects.toBeInstanceOf(TracetrainError);
      // Resuming against another endpoint would mix measurements of two set-ups: refused.
      await expect(runApo(options, { store: new SqliteStore(path) })).rejects.toThrow(/started with other resources than the trainer gives now \(main changed\)/);
      resumed = await runApo(options, { llm, store: new SqliteStore(path) });
    } finally {
      await llm.close();
    }
    expect(resumed.result.reusedRollouts).toBeGreaterThan(0);
    expect(resumed.optimizerCalls).toBeLessThan(reference.optimizerCalls);
    expect(resumed.agentCalls).toBeLessThan(reference.agentCalls);
    // It ends where the uninterrupted run ends.
    expect(resumed.result.best.resources.system).toEqual(reference.result.best.resources.system);
    expect(resumed.result.best.resources.request).toEqual(reference.result.best.resources.request);
    expect(resumed.result.best.score).toBe(reference.result.best.score);
    expect(resumed.result.history.map((h) => h.beam)).toEqual(reference.result.history.map((h) => h.beam));
    expect(resumed.result.spend.rollouts).toBe(reference.result.spend.rollouts);
    expect(resumed.result.history[0]!.children.filter((c) => c.status === "evaluated").every((c) => c.reused)).toBe(true);
  });

  it("resumes after Ctrl-C: the interrupted run publishes nothing, the next one finishes as an uninterrupted run would", async () => {
    const reference = await runApo(APO_RUN_OPTIONS);
    const path = join(dir, "ctrl-c.db");
    const port = await freePort();
    const start = () => startOptimizerRun("apo", path, port);
    const first = start();
    await vi.waitFor(() => expect(first.out.text).toMatch(/round 2\/3: scoring/), { timeout: 60_000, interval: 20 });
    first.child.kill("SIGINT");
    expect(await first.exited, first.out.text).toBe(0);
    const stopped = first.result();
    expect(stopped).toMatchObject({ interrupted: true, stoppedBecause: "interrupted", verdict: "not checked" });
    expect(first.out.text).toContain("interrupted before the final check: nothing was published");

    const second = start();
    expect(await second.exited, second.out.text).toBe(0);
    const resumed = second.result();
    expect(resumed.stoppedBecause).toBe("completed");
    expect(resumed.reused).toBeGreaterThan(0);
    expect(resumed.system).toBe((reference.result.best.resources.system as { template: string }).template);
    expect(resumed.score).toBe(reference.result.best.score);
    expect(resumed.verdict).toBe(reference.result.verdict);
    // Ctrl-C landed while candidates were being scored: those rollouts were cancelled, and ran again under new ids.
    const store = new SqliteStore(path);
    const rerun = (await store.queryRollouts({ idPrefix: "ctrl-c.", limit: 1000 })).items.filter((r) => /\.r2$/.test(r.rolloutId));
    expect(rerun.length).toBeGreaterThan(0);
    await store.close();
  }, 90_000);

  it("edits the template the critique blames, or every template in turn", async () => {
    const blamed = await runApo({ ...SMALL, seed: 1 });
    const blamedTargets = new Set(blamed.result.history.flatMap((h) => h.children).map((c) => c.target));
    expect([...blamedTargets]).toEqual(["system"]);
    const turns = await runApo({ ...SMALL, seed: 1, targetChoice: "round-robin" });
    const targets = turns.result.history[0]!.children.map((c) => c.target);
    expect(targets).toEqual(["system", "request"]);
  });

  describe("bad input", () => {
    it("names every bad option", () => {
      const issuesOf = (make: () => unknown) => {
        try {
          make();
        } catch (error) {
          expect(error).toBeInstanceOf(ValidationError);
          return (error as ValidationError).issues;
        }
        throw new Error("expected a ValidationError");
      };
      const paths = issuesOf(() => new APO({ client: {} as never, rounds: 0, evaluation: { strategy: "ucb" as never } })).map((i) => i.path);
      expect(paths).toEqual(expect.arrayContaining(["client", "rounds", "evaluation.strategy"]));
      const client = { chat: { completions: { create: async () => ({ choices: [] }) } } };
      expect(issuesOf(() => new APO({ client, prompts: { critique: ["{{template}} {{experiments}} {{colour}}"], edit: ["no variables"] } }))).toEqual([
        { path: "prompts.critique[0]", message: "uses {{colour}}, which APO does not fill (it fills target, template, targets, experiments, score)" },
        { path: "prompts.edit[0]", message: "must use {{template}} and {{critique}}" },
      ]);
    });

    it("explains what the trainer must give it", async () => {
      await expect(runApo({ targets: ["nope", "main"] })).rejects.toMatchObject({
        issues: [
          { path: "targets[0]", message: "'nope' is not in initialResources (prompt templates: system, request)" },
          { path: "targets[1]", message: "'main' is a 'llm' resource, not a prompt_template (prompt templates: system, request)" },
        ],
      });
      await expect(runApo({}, { train: [] })).rejects.toThrow(/train.*APO needs training tasks/);
      const noTemplates = { main: { kind: "llm", baseUrl: "http://127.0.0.1:9/v1", model: "m" }, system: { kind: "json", value: 1 } };
      await expect(runApo({}, { initialResources: noTemplates, trainer: { checkEndpoints: false } })).rejects.toThrow(/has no prompt_template resource/);
      await expect(runApo({ maxRollouts: 20 })).rejects.toThrow(/maxRollouts.*20 is too few.*final check 26 \(the seed and the best on each of 13 held-out tasks\)/);
    });
  });

  it("reports every phase's rollouts against a total that covers them, never out of 0", async () => {
    const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    let lines: Array<{ kind: string; label: string; message: string; done: number; total: number }>;
    try {
      await runApo({ ...SMALL, rounds: 1 }, { trainer: { progress: "json" } });
      lines = write.mock.calls.flatMap((c) => String(c[0]).split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as (typeof lines)[number]));
    } finally {
      write.mockRestore();
    }
    const progress = lines.filter((l) => l.kind === "progress");
    for (const label of ["training minibatches", "scoring", "final check"]) expect(progress.some((l) => l.label.includes(label)), label).toBe(true);
    for (const line of progress) {
      expect(line.total, line.message).toBeGreaterThan(0);
      expect(line.done, line.message).toBeLessThanOrEqual(line.total);
      expect(line.message).toContain(`${line.done}/${line.total}`);
    }
    // Each phase ends complete: what it announced is what it ran.
    const last = new Map(progress.map((l) => [l.label, l]));
    for (const line of last.values()) expect(line.done, line.label).toBe(line.total);
  });

  it("uses all the training tasks when the minibatch asks for more", async () => {
    const run = await runApo({ rounds: 1, beamWidth: 1, branchFactor: 1, gradientBatchSize: 50, evaluation: { maxTasks: 4 } }, { train: train.slice(0, 3) });
    expect(run.result.history[0]!.parents[0]!.rollouts).toBe(3);
  });
});
