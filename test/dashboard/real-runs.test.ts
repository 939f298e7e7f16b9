/**
 * The Runs pages on a store filled by real runs, not fixtures: the APO run of the dashboard rig
 * (room selector, openai SDK, mock LLM) and the demo's RL run (treasure boxes, the reference
 * backend) recorded into the same SQLite store the page reads, followed live while it trains.
 * The RL run is held after its first update until the page has drawn that step, so "the chart
 * grows while the run runs" is checked, not assumed.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TrainingBackend, RL, ReferenceBackend } from "tracetrain/rl";
import { Trainer } from "tracetrain";
import { CandidateEntrySchema } from "tracetrain/schemas";
import { ACTIONS, makeTasks, treasureHunter } from "../../src/demo/index.js";
import { CHROMIUM, type DashboardRig, openTab, startDashboardRig } from "./support.js";

// Skipped on a machine without Chromium, never in CI (.ci/run installs it): there a missing browser fails.
const skip = !existsSync(CHROMIUM) && process.env.CI !== "true";
if (skip) console.warn(`SKIPPED: the dashboard tests on real runs need Chromium at ${CHROMIUM}; CI installs it.`);

const TOKEN = "real-runs-s3cret";
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
/** What the functions run in the page use (this project's TypeScript has no DOM types). */
interface BrowserGlobals {
  document: { querySelectorAll(selector: string): { length: number } };
}

describe.skipIf(skip)("the Runs pages on a store filled by real runs", () => {
  let dir: string;
  let rig: DashboardRig;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "tracetrain-real-runs-"));
    rig = await startDashboardRig(dir, TOKEN);
  }, 180_000);

  afterAll(async () => {
    await rig?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const countAtLeast = (page: Page, selector: string, n: number) =>
    page.waitForFunction(([sel, count]) => (globalThis as unknown as BrowserGlobals).document.querySelectorAll(sel).length >= count, [selector, n] as const);
  const trainPoints = "#chart-reward .series[data-series='train'] circle.point";

  /** Opens `hash` with the token given on the login form, as a user would. */
  async function openWithToken(hash: string): Promise<Page & { errors: string[] }> {
    const page = await openTab(rig.browser, `${rig.server.url}/${hash}`);
    await page.getByLabel("Token").fill(TOKEN);
    await page.getByRole("button", { name: "Open dashboard" }).click();
    return page;
  }

  it("shows the APO run the rig recorded: its candidates as the lineage, an edit's diff against the seed's text", async () => {
    const [run] = (await rig.store.queryRuns({ algorithm: ["apo"] })).items;
    expect(run, "the rig's APO run recorded its run").toBeDefined();
    expect(run!.status).toBe("completed");
    const entries = (await rig.store.queryRunEntries({ runId: run!.runId, kind: ["candidate"] })).items.map((e) => CandidateEntrySchema.parse(e.data));
    const ids = [...new Set(entries.map((c) => c.candidateId))];
    expect(ids.length).toBeGreaterThanOrEqual(2);

    const page = await openWithToken(`#/runs/${encodeURIComponent(run!.runId)}`);
    await countAtLeast(page, "#lineage [role=treeitem]", ids.length);
    const shown = await page.locator("#lineage [role=treeitem]").evaluateAll((items) => items.map((i) => i.getAttribute("data-candidate-id")));
    expect([...new Set(shown)].sort()).toEqual(ids.sort());

    const edit = entries.find((c) => c.origin === "edit" && c.edits.length > 0);
    expect(edit, "APO proposed at least one edit").toBeDefined();
    await page.locator(`#lineage [role=treeitem][data-candidate-id='${edit!.candidateId}'] .node`).first().click();
    await page.locator("#candidate h2").filter({ hasText: edit!.candidateId }).waitFor();
    const diff = page.locator(`#candidate table.diff[data-component='${edit!.edits[0]!.component}']`);
    expect((await diff.locator("td.before").allInnerTexts()).join("\n").trim()).toBe(edit!.edits[0]!.before.trim());
    expect((await diff.locator("td.after").allInnerTexts()).join("\n").trim()).toBe(edit!.edits[0]!.after.trim());
    if (edit!.rationale) expect((await page.locator("#candidate .rationale").innerText()).length).toBeGreaterThan(0);
    expect(page.errors).toEqual([]);
    await page.context().close();
  });

  it("follows the demo's RL run as it trains: the page draws step 1 while step 2 is held, then grows to every step", async () => {
    const reference = await ReferenceBackend.start({ actions: [...ACTIONS], seed: 0 });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let updates = 0;
    // The reference backend, held before answering its second update until the test has looked.
    const backend: TrainingBackend = {
      info: () => reference.info(),
      endpoints: () => reference.endpoints(),
      checkpoint: (request) => reference.checkpoint(request),
      close: () => reference.close(),
      async train(request, options) {
        if (++updates === 2) await held;
        return reference.train(request, options);
      },
    };
    const steps = 4;
    const trainer = new Trainer({
      store: rig.store,
      runners: 8,
      progress: false,
      logger: quiet,
      handleSignals: false,
      algorithm: new RL({ backend, steps, tasksPerStep: 4, groupSize: 4, evalEvery: 2, runId: "demo-rl-live", advantage: { scaleByStd: true }, seed: 0 }),
    });
    const fitting = trainer.fit(treasureHunter, { train: makeTasks(16, 1, "train-", "keeper"), val: makeTasks(8, 2, "val-", "keeper") });
    try {
      // The run exists from its start: open its page, which must then follow it.
      await new Promise<void>((resolve) => {
        const seen = (event: { runId: string }) => {
          if (event.runId !== "demo-rl-live") return;
          rig.store.events.off("run", seen);
          resolve();
        };
        rig.store.events.on("run", seen);
        void rig.store.getRun("demo-rl-live").then(() => seen({ runId: "demo-rl-live" }), () => {});
      });
      const page = await openWithToken("#/runs/demo-rl-live");
      await countAtLeast(page, trainPoints, 1);
      // Held: the second update has not been answered, so the page shows exactly the first step of a running run.
      expect(await page.locator(trainPoints).count()).toBe(1);
      expect((await rig.store.getRun("demo-rl-live")).status).toBe("running");
      expect(await page.locator("[data-status]").first().getAttribute("data-status")).toBe("running");
      release();
      const { result } = await fitting;
      await countAtLeast(page, trainPoints, steps);
      expect(await page.locator(trainPoints).count()).toBe(result.steps.length);
      // Each point is the step's recorded train reward, as the algorithm returned it.
      const titles = await page.locator(trainPoints).evaluateAll((points) => points.map((p) => p.querySelector("title")?.textContent ?? ""));
      result.steps.forEach((step, i) => {
        const [, at, value] = /^train at step (\d+): (-?[\d.]+)$/.exec(titles[i] ?? "") ?? [];
        expect(Number(at)).toBe(step.step);
        expect(Math.abs(Number(value) - step.trainReward!)).toBeLessThanOrEqual(0.0005 + 1e-12);
      });
      // The validation curve starts at the evaluation before the first step.
      expect(await page.locator("#chart-reward .series[data-series='val'] circle.point").count()).toBe(1 + result.steps.filter((s) => s.valReward !== undefined).length);
      await page.locator("[data-status='completed']").first().waitFor();
      expect(page.errors).toEqual([]);
      await page.context().close();
    } finally {
      release();
      await fitting.catch(() => {});
      await trainer.close();
      await backend.close();
    }
  }, 120_000);
});
