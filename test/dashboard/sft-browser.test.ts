/**
 * An SFT run's page in a real Chromium against a store server on loopback: the run recorded as the
 * SFT algorithm records it (run-fixtures.ts, each entry checked by its schema) is drawn as curves
 * per round — rewards with validation from round 0, what the filters kept and left out, the loss,
 * tokens, seconds — not as the generic list of entries.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryStore } from "tracetrain/store";
import type { StoreServer } from "tracetrain/server";
import { CHROMIUM, type DashboardRig, openTab, startDashboardRig } from "./support.js";
import { SFT_ROUNDS, SFT_RUN_ID, recordSftRun, sftRound } from "./run-fixtures.js";

// Skipped on a machine without Chromium, never in CI (.ci/run installs it): there a missing browser fails.
const skip = !existsSync(CHROMIUM) && process.env.CI !== "true";
if (skip) console.warn(`SKIPPED: the SFT run-page test needs Chromium at ${CHROMIUM}; CI installs it.`);

const TOKEN = "sft-s3cret";
const dir = mkdtempSync(join(tmpdir(), "tracetrain-dashboard-sft-"));

describe.skipIf(skip)("the SFT run page in Chromium", () => {
  let store: MemoryStore;
  let server: StoreServer;
  let browser: Browser;
  let rig: DashboardRig | undefined;

  beforeAll(async () => {
    store = new MemoryStore({ watchdogIntervalMs: false });
    await recordSftRun(store);
    rig = await startDashboardRig(dir, TOKEN, async () => store);
    ({ server, browser } = rig);
  }, 60_000);
  afterAll(async () => {
    await rig?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("draws a chart per figure with a point per round that reported it, and says how far the run got", async () => {
    const page = await openTab(browser, `${server.url}/#token=${TOKEN}`);
    await page.locator("#live[data-state='live']").waitFor();
    await page.evaluate((target) => {
      (globalThis as unknown as { location: { hash: string } }).location.hash = target;
    }, `#/runs/${SFT_RUN_ID}`);
    await page.locator(`.run-progress[data-steps='${SFT_ROUNDS}']`).waitFor();
    const rounds = Array.from({ length: SFT_ROUNDS }, (_, i) => sftRound(i + 1));
    const trainingTokens = rounds.reduce((n, r) => n + (r.tokens?.total ?? 0), 0);
    expect(await page.locator(".run-progress").innerText()).toMatch(new RegExp(`^${SFT_ROUNDS} rounds; policy version ${SFT_ROUNDS}; ${trainingTokens} training tokens, \\$`));
    expect(await page.locator("#curves-title").innerText()).toBe("Curves per round");
    const charts = await page.locator(".chart").evaluateAll((nodes) => nodes.map((n) => n.id));
    expect(charts).toEqual(["chart-reward", "chart-filters", "chart-loss", "chart-tokens", "chart-tokens-per-reward", "chart-seconds"]);
    const points = (chart: string, series: string) => page.locator(`#chart-${chart} .series[data-series='${series}'] circle.point`).count();
    expect(await points("reward", "val")).toBe(1 + rounds.filter((r) => r.stats.valReward !== undefined).length);
    expect(await points("filters", "kept")).toBe(SFT_ROUNDS);
    expect(await points("loss", "loss")).toBe(SFT_ROUNDS);
    expect(await page.locator("#evaluations table.evaluations tbody tr").count()).toBe(1);
    expect(page.errors).toEqual([]);
  });
});
