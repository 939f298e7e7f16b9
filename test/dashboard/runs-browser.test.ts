/**
 * The training-run pages in a real Chromium (playwright-core, Debian's /usr/bin/chromium) against
 * a store server on loopback over a MemoryStore holding an RL run and a GEPA run recorded as the
 * algorithms record theirs (run-fixtures.ts, every entry checked by its schema): the runs list,
 * one curve per RL metric with a point per step, a run that grows while its page is open, the
 * GEPA lineage, a candidate's diff and the critique behind it, the front, spend against budget,
 * keyboard use of the tree, and the token gate. Takes the dashboard guide's screenshots (docs/images/, shown in docs/dashboard.md).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryStore } from "tracetrain/store";
import type { StoreServer } from "tracetrain/server";
import { RunEntryKinds } from "tracetrain/schemas";
import { CHROMIUM, type DashboardRig, openTab, startDashboardRig } from "./support.js";
import { FINAL_TEST, GEPA_CANDIDATES, GEPA_FRONT, GEPA_RUN_ID, GEPA_SPEND, INITIAL_VAL, RL_RUN_ID, RL_STEPS, entry, recordGepaRun, recordRlRun, rlStepData, rlStepEntry, stepTokens } from "./run-fixtures.js";

// Skipped on a machine without Chromium, never in CI (.ci/run installs it): there a missing browser fails.
const skip = !existsSync(CHROMIUM) && process.env.CI !== "true";
if (skip) console.warn(`SKIPPED: the dashboard run-page tests need Chromium at ${CHROMIUM}; CI installs it.`);

const TOKEN = "runs-s3cret";
/** What the functions run in the page use (this project's TypeScript has no DOM types). */
interface BrowserGlobals {
  document: { querySelectorAll(selector: string): { length: number } };
  location: { hash: string };
}
const dir = mkdtempSync(join(tmpdir(), "tracetrain-dashboard-runs-"));
// As in browser.test.ts: the dashboard guide's images are replaced only with UPDATE_SCREENSHOTS=1.
const images = process.env.UPDATE_SCREENSHOTS === "1" ? fileURLToPath(new URL("../../docs/images/", import.meta.url)) : join(dir, "images");

const steps = Array.from({ length: RL_STEPS }, (_, i) => rlStepData(i + 1));
/** Points each RL chart's series should have: one per step that reported the value (val also has step 0). */
const expectedPoints: Record<string, Record<string, number>> = {
  reward: { train: steps.filter((s) => s.trainReward !== null).length, val: steps.filter((s) => s.valReward !== undefined).length + 1 },
  "no-signal": { "no-signal share": steps.length },
  "merge-ratio": { "merge ratio": steps.filter((s) => s.mergeRatio !== null).length },
  "tokens-per-reward": { "sampled tokens per reward": steps.filter((s) => typeof s.tokensPerReward === "number").length, "all tokens per reward": steps.filter((s) => typeof s.totalTokensPerReward === "number").length },
  tokens: { input: steps.length, output: steps.length },
  cost: { cost: steps.length },
  "length-penalty": { "mean penalty": steps.filter((s) => s.lengthPenalty).length, "share penalized": steps.filter((s) => s.lengthPenalty).length },
  staleness: { staleness: steps.length },
  seconds: { rollouts: steps.length, adapt: steps.length, train: steps.length, eval: steps.length },
};

describe.skipIf(skip)("the training-run pages in Chromium", () => {
  let store: MemoryStore;
  let server: StoreServer;
  let browser: Browser;

  let rig: DashboardRig | undefined;

  beforeAll(async () => {
    store = new MemoryStore({ watchdogIntervalMs: false });
    await recordRlRun(store);
    await recordGepaRun(store);
    rig = await startDashboardRig(dir, TOKEN, async () => store);
    ({ server, browser } = rig);
    mkdirSync(images, { recursive: true });
  }, 60_000);
  afterAll(async () => {
    await rig?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A signed-in tab (its own sessionStorage) on `hash`, failing the test on any uncaught page error. */
  async function open(hash: string, colorScheme: "light" | "dark" = "light"): Promise<Page & { errors: string[] }> {
    const page = await openTab(browser, `${server.url}/#token=${TOKEN}`, colorScheme);
    await page.locator("#live[data-state='live']").waitFor();
    await page.evaluate((target) => {
      (globalThis as unknown as BrowserGlobals).location.hash = target;
    }, hash);
    return page;
  }
  /** Waits until `selector` matches exactly `n` elements (the page redraws as entries arrive). */
  const countIs = (page: Page, selector: string, n: number) =>
    page.waitForFunction(([sel, count]) => (globalThis as unknown as BrowserGlobals).document.querySelectorAll(sel).length === count, [selector, n] as const);
  const points = (chart: string, series: string) => `#chart-${chart} .series[data-series='${series}'] circle.point`;

  it("without a token shows the login form and no run; the runs API answers 401", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/#/runs/${GEPA_RUN_ID}`);
    await page.getByLabel("Token").waitFor();
    expect(await page.locator("#runs, #lineage, .chart").count()).toBe(0);
    expect(await page.locator("main").innerText()).not.toContain("c0");
    for (const path of ["/v1/runs", `/v1/runs/${RL_RUN_ID}`, `/v1/runs/${RL_RUN_ID}/entries`]) {
      const response = await fetch(`${server.url}${path}`);
      expect([path, response.status]).toEqual([path, 401]);
    }
    await context.close();
  });

  it("lists the runs most recently updated first, links each to its page, and shows a new run and its status live", async () => {
    const page = await open("#/");
    await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Runs" }).click();
    const rows = page.locator("#runs tbody tr[data-run-id]");
    await countIs(page, "#runs tbody tr[data-run-id]", 2);
    const stored = (await store.queryRuns()).items.map((r) => r.runId);
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-run-id")))).toEqual(stored);
    expect(stored).toEqual([GEPA_RUN_ID, RL_RUN_ID]);
    const gepa = page.locator(`#runs tr[data-run-id='${GEPA_RUN_ID}']`);
    expect(await gepa.locator("td").allInnerTexts()).toEqual([GEPA_RUN_ID, "gepa", "completed", expect.any(String), expect.any(String), String((await store.getRun(GEPA_RUN_ID)).entries), "best: m5 · bestScore: 0.74 · candidates: 6"]);
    expect(await gepa.getByRole("link", { name: GEPA_RUN_ID }).getAttribute("href")).toBe(`#/runs/${GEPA_RUN_ID}`);

    await store.recordRun({ runId: "apo-new", algorithm: "apo" });
    await page.locator("#runs tbody tr[data-run-id]").first().and(page.locator("[data-run-id='apo-new'][data-status='running']")).waitFor();
    await store.recordRun({ runId: "apo-new", algorithm: "apo", status: "failed" });
    await page.locator("#runs tr[data-run-id='apo-new'][data-status='failed']").waitFor();
    expect(await rows.count()).toBe(3);
    expect(page.errors).toEqual([]);
    await page.context().close();
  });

  it("draws the RL run: a chart per metric, a point per step that reported it, axes, hover titles and a data table", async () => {
    const page = await open(`#/runs/${RL_RUN_ID}`);
    await page.locator(".run-progress[data-steps='10']").waitFor();
    const trainingTokens = steps.reduce((n, s) => n + s.tokens!.total, 0);
    expect(await page.locator(".run-progress").innerText()).toContain(`; ${trainingTokens} training tokens, $`);
    const charts = page.locator("figure.chart");
    expect(await charts.evaluateAll((figures) => figures.map((f) => f.getAttribute("data-chart")))).toEqual(Object.keys(expectedPoints));
    for (const [chart, series] of Object.entries(expectedPoints)) {
      expect(await page.locator(`#chart-${chart} .series`).evaluateAll((groups) => groups.map((g) => g.getAttribute("data-series")))).toEqual(Object.keys(series));
      for (const [name, n] of Object.entries(series)) {
        expect([chart, name, await page.locator(points(chart, name)).count()]).toEqual([chart, name, n]);
        // A line joins the points of a series with more than one.
        expect(await page.locator(`#chart-${chart} .series[data-series='${name}'] path.line`).count()).toBe(n > 1 ? 1 : 0);
      }
      const svg = page.locator(`#chart-${chart} svg`);
      expect(await svg.getAttribute("role")).toBe("img");
      expect(await svg.getAttribute("aria-label")).toContain(`${Object.keys(series)[0]}: ${Object.values(series)[0]} points`);
      expect(await page.locator(`#chart-${chart} .axis-x .tick`).count()).toBeGreaterThan(1);
      expect(await page.locator(`#chart-${chart} .axis-y .tick`).count()).toBeGreaterThan(1);
    }
    // The initial validation is the val curve's step 0; every point says what it is on hover.
    expect(await page.locator(points("reward", "val")).first().locator("title").textContent()).toBe(`val at step 0: ${INITIAL_VAL.mean}`);
    expect(await page.locator(points("reward", "train")).last().locator("title").textContent()).toBe(`train at step 10: ${steps[9]!.trainReward}`);
    // Screen readers get the numbers as a table: a row per step (and step 0).
    const table = page.locator("#chart-reward table.visually-hidden");
    expect(await table.locator("tbody tr").count()).toBe(RL_STEPS + 1);
    expect(await table.locator("tbody tr").nth(1).locator("th, td").allTextContents()).toEqual(["1", String(steps[0]!.trainReward), "—"]);
    expect(await page.locator(".run-header").innerText()).toContain("rl");
    // The evaluations outside the steps, as recorded: before the first step, and the final test.
    expect(await page.locator("#evaluations tbody tr").evaluateAll((trs) => trs.map((tr) => tr.textContent))).toEqual([
      `${INITIAL_VAL.label}${INITIAL_VAL.split}${INITIAL_VAL.mean}${INITIAL_VAL.ci95[0]} – ${INITIAL_VAL.ci95[1]}${INITIAL_VAL.n}`,
      `${FINAL_TEST.label}${FINAL_TEST.split}${FINAL_TEST.mean}${FINAL_TEST.ci95[0]} – ${FINAL_TEST.ci95[1]}${FINAL_TEST.n}`,
    ]);
    await page.screenshot({ path: join(images, "dashboard-run-rl.png"), fullPage: true });
    expect(page.errors).toEqual([]);
    await page.context().close();
  });

  it("follows a running RL run: each step recorded while the page is open adds a point, fetched after the last sequence seen", async () => {
    const runId = "rl-live";
    await recordRlRun(store, runId, 0, "running");
    const page = await open(`#/runs/${runId}`);
    // Before the first step: only the initial validation, and the other charts say they are empty.
    await page.locator(".run-progress").filter({ hasText: "No step recorded yet." }).waitFor();
    await countIs(page, points("reward", "val"), 1);
    expect(await page.locator("#chart-staleness .empty").innerText()).toBe("No values recorded yet.");
    await store.addRunEntries(runId, [1, 2, 3].map(rlStepEntry));
    await countIs(page, points("reward", "train"), 3);
    const seen = (await store.getRun(runId)).entries;
    const asked = page.waitForRequest((request) => new URL(request.url()).pathname === `/v1/runs/${runId}/entries` && new URL(request.url()).searchParams.get("afterSequence") === String(seen));
    await store.addRunEntries(runId, [rlStepEntry(4)]);
    await asked;
    await countIs(page, points("reward", "train"), 4);
    await countIs(page, points("seconds", "train"), 4);
    await store.addRunEntries(runId, [rlStepEntry(5), rlStepEntry(6)]);
    await countIs(page, points("reward", "train"), 6);
    await countIs(page, points("reward", "val"), 4);
    // An entry this page cannot read is named above the charts, and the rest still draw.
    await store.addRunEntries(runId, [{ kind: RunEntryKinds.rlStep, data: { step: "seven" } }]);
    await page.locator("#unreadable").filter({ hasText: "rl.step: step is not a whole number" }).waitFor();
    await store.addRunEntries(runId, [rlStepEntry(7)]);
    await countIs(page, points("reward", "train"), 7);
    expect(await page.getByRole("alert").filter({ hasText: /\S/ }).count()).toBe(0);
    await store.recordRun({ runId, algorithm: "rl", status: "completed" });
    await page.locator(".run-header [data-status='completed']").waitFor();
    expect(await page.locator(points("staleness", "staleness")).count()).toBe(7);
    expect(page.errors).toEqual([]);
    await page.context().close();
  });

  it("shows the GEPA lineage with scores, a chosen candidate's diff and critique, the front and the spend — by keyboard, live, in the dark theme", async () => {
    const page = await open(`#/runs/${GEPA_RUN_ID}`, "dark");
    const tree = page.getByRole("tree", { name: "Candidate lineage" });
    await countIs(page, "#lineage [role=treeitem]", GEPA_CANDIDATES.length + 1);
    // Each candidate sits under each of its parents (the merge under both), the seed at the top.
    const placed = await tree.locator("[role=treeitem]").evaluateAll((items) => items.map((i) => `${i.getAttribute("data-parent") ?? "-"}>${i.getAttribute("data-candidate-id")}@${i.getAttribute("aria-level")}`));
    expect(placed.sort()).toEqual(["->c0@1", "c0>c1@2", "c0>c3@2", "c1>c2@3", "c2>c4@4", "c2>m5@4", "c3>m5@3"].sort());
    // Each item is named by its own line, not by everything under it.
    expect(await tree.getByRole("treeitem", { name: /c1 reflection iteration 1/ }).count()).toBe(1);
    const item = (id: string, parent = "") => tree.locator(`[role=treeitem][data-key='${parent}>${id}']`);
    expect(await item("c4", "c2").locator(".verdict").first().innerText()).toBe("rejected");
    // The merge's second place points to its first, where anything under it is listed.
    expect(await item("m5", "c3").locator(".note").allInnerTexts()).toEqual(["merge of c2 + c3", "also listed under c2, with its children"]);
    expect(await item("m5", "c3").getAttribute("aria-expanded")).toBeNull();
    expect(await item("m5", "c2").locator(".scores").first().innerText()).toContain("pareto 0.74 ± 0.22 (n=12)");
    // The current front is highlighted with its wins.
    expect((await tree.locator("[role=treeitem].in-front").evaluateAll((items) => items.map((i) => i.getAttribute("data-candidate-id")))).sort()).toEqual(["c2", "c3", "m5", "m5"]);
    expect(await item("m5", "c2").locator(".front-badge").innerText()).toBe("front · 7 wins");
    expect(await page.locator("#front ol.front li").evaluateAll((lis) => lis.map((li) => li.textContent))).toEqual(GEPA_FRONT.candidateIds.map((id) => `${id} — ${GEPA_FRONT.wins[id as "m5"]} wins`));

    // Keyboard: Tab reaches the tree, arrows move, Left closes, Enter shows the candidate.
    await item("c0").focus();
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("ArrowDown");
    expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { getAttribute(n: string): string } } }).document.activeElement.getAttribute("data-key"))).toBe("c1>c2");
    await page.keyboard.press("ArrowLeft");
    expect(await item("c2", "c1").getAttribute("aria-expanded")).toBe("false");
    expect(await item("c4", "c2").isVisible()).toBe(false);
    await page.keyboard.press("ArrowRight");
    expect(await item("c2", "c1").getAttribute("aria-expanded")).toBe("true");
    await page.keyboard.press("Enter");
    const c2 = GEPA_CANDIDATES[2]!;
    await page.locator("#candidate h2").filter({ hasText: "c2" }).waitFor();
    expect(await item("c2", "c1").getAttribute("aria-selected")).toBe("true");
    expect(await page.locator("#candidate .rationale").innerText()).toBe(c2.rationale);
    const diff = page.locator("#candidate table.diff[data-component='system']");
    expect(await diff.locator("tr.added td.after").innerText()).toBe("Prefer the smallest room that fits.");
    expect((await diff.locator("td.before").allInnerTexts()).join("\n").trim()).toBe(c2.edits[0]!.before);
    expect((await diff.locator("td.after").allInnerTexts()).join("\n").trim()).toBe(c2.edits[0]!.after);

    // The merge, chosen with the mouse: the changed words are marked on both sides.
    await item("m5", "c3").locator(".node").click();
    await page.locator("#candidate h2").filter({ hasText: "m5" }).waitFor();
    expect(await page.locator("#candidate .meta").innerText()).toContain("parents c2, c3");
    expect(await page.locator("#candidate table.diff ins").allInnerTexts()).toEqual([", for example: R-204"]);
    expect(await page.locator("#candidate .rationale").innerText()).toBe(GEPA_CANDIDATES[5]!.rationale);

    // Spend against the budget; a resource without a limit says so.
    const meter = (label: string) => page.getByRole("meter", { name: label });
    expect(await meter("Rollouts").getAttribute("aria-valuenow")).toBe(String(GEPA_SPEND.rollouts));
    expect(await meter("Rollouts").getAttribute("aria-valuemax")).toBe(String(GEPA_SPEND.limits.maxRollouts));
    expect(await meter("USD").getAttribute("aria-valuetext")).toBe("$1.37 of $5.00");
    expect(await page.getByRole("meter", { name: "Optimizer tokens" }).count()).toBe(0);
    expect(await page.locator("[data-spend='Optimizer tokens'] .spend-text").innerText()).toBe("38,500 — no limit");
    expect(await page.locator("[data-spend='Rollouts'] .spend-text").innerText()).toBe("412 of 600 (69%)");
    await page.screenshot({ path: join(images, "dashboard-run-gepa.png"), fullPage: true });

    // Live: a candidate recorded now joins the tree under its parent; the selection stays, and the
    // diff being read is not redrawn (same element) since nothing in it changed.
    const reading = await page.locator("#candidate table.diff").elementHandle();
    const late = { ...GEPA_CANDIDATES[3]!, candidateId: "c6", parents: ["m5"], iteration: 6, rationale: "Late reflection." };
    await store.addRunEntries(GEPA_RUN_ID, [entry(RunEntryKinds.candidate, late)]);
    await tree.locator("[role=treeitem][data-key='m5>c6']").first().waitFor();
    expect(await page.locator("#candidate h2").innerText()).toContain("m5");
    expect(await reading!.evaluate((table) => table.isConnected)).toBe(true);
    // A new score for the selected candidate does redraw it.
    await store.addRunEntries(GEPA_RUN_ID, [entry(RunEntryKinds.score, { candidateId: "m5", on: "val", mean: 0.8, n: 20, ci95: [0.62, 0.98], tokens: stepTokens(3), tokensPerReward: 131_625 })]);
    await page.locator("#candidate .scores-table").getByRole("cell", { name: "val", exact: true }).waitFor();
    // Its tokens, cost and tokens per unit reward sit beside the score.
    const valRow = page.locator("#candidate .scores-table tbody tr").filter({ has: page.getByRole("cell", { name: "val", exact: true }) });
    expect((await valRow.locator("td").allInnerTexts()).slice(3)).toEqual(["20", "105300", "$0.0605", "131625.0"]);
    expect(await reading!.evaluate((table) => table.isConnected)).toBe(false);
    expect(page.errors).toEqual([]);
    await page.context().close();
  });

  it("pages through runs with the store's cursors (Older, Newer), and says when a run is not in the store", async () => {
    // Runs last: it fills the list past one page.
    for (let i = 0; i < 26; i++) await store.recordRun({ runId: `apo-page-${String(i).padStart(2, "0")}`, algorithm: "apo", status: "completed" });
    const first = await store.queryRuns({ limit: 25 });
    const second = (await store.queryRuns({ limit: 25, cursor: first.nextCursor! })).items.map((r) => r.runId);
    const page = await open("#/runs");
    const ids = () => page.locator("#runs tbody tr[data-run-id]").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-run-id")));
    await countIs(page, "#runs tbody tr[data-run-id]", 25);
    expect(await ids()).toEqual(first.items.map((r) => r.runId));
    expect(await page.getByRole("button", { name: "Newer" }).isDisabled()).toBe(true);
    await page.getByRole("button", { name: "Older" }).click();
    await countIs(page, "#runs tbody tr[data-run-id]", second.length);
    expect(await ids()).toEqual(second);
    expect(second).toContain(RL_RUN_ID);
    await page.getByRole("button", { name: "Newer" }).click();
    await countIs(page, "#runs tbody tr[data-run-id]", 25);
    expect(await ids()).toEqual(first.items.map((r) => r.runId));

    // A run the store does not have is said so, not drawn empty.
    await page.evaluate(() => {
      (globalThis as unknown as BrowserGlobals).location.hash = "#/runs/no-such-run";
    });
    const alert = page.getByRole("alert").filter({ hasText: "Could not load run no-such-run:" });
    await alert.waitFor();
    expect(await alert.innerText()).toMatch(/not found/i);
    expect(await page.locator(".chart, #lineage").count()).toBe(0);
    expect(page.errors).toEqual([]);
    await page.context().close();
  });
});
