/**
 * The rollouts table's version columns, the runners page and the resources page in a real
 * Chromium, against a real store server over a SQLite store filled by real runs (APO on the room
 * task, a two-agent team run by the Trainer's runners). Takes the dashboard guide's screenshots of the new
 * pages (docs/images/, with UPDATE_SCREENSHOTS=1).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ResourcesSnapshot, Rollout, Store } from "tracetrain";
import type { StoreServer } from "tracetrain/server";
import { CHROMIUM, type DashboardRig, openTab, startDashboardRig } from "./support.js";

// Skipped on a machine without Chromium, never in CI (.ci/run installs it): there a missing browser fails.
const skip = !existsSync(CHROMIUM) && process.env.CI !== "true";
if (skip) console.warn(`SKIPPED: the dashboard page tests need Chromium at ${CHROMIUM}; CI installs it.`);

const TOKEN = "pages-s3cret";
const dir = mkdtempSync(join(tmpdir(), "tracetrain-dashboard-pages-"));
const images = process.env.UPDATE_SCREENSHOTS === "1" ? fileURLToPath(new URL("../../docs/images/", import.meta.url)) : join(dir, "images");
/** What the functions run in the page read (this project's TypeScript has no DOM types). */
interface BrowserGlobals {
  document: { activeElement: { id: string } | null; documentElement: { scrollWidth: number } };
}
const traceId = "b".repeat(32);

/** An element as the contrast check reads it in the page. */
interface Styled {
  parentElement: Styled | null;
}
interface StyleReader {
  getComputedStyle(element: Styled): { color: string; backgroundColor: string };
}

/** sRGB channels (0–1) of a computed CSS colour: `rgb()`/`rgba()` or `color(srgb …)` (what color-mix() computes to). */
function channels(css: string): [number, number, number] {
  const rgb = /^rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)/.exec(css);
  if (rgb) return [Number(rgb[1]) / 255, Number(rgb[2]) / 255, Number(rgb[3]) / 255];
  const srgb = /^color\(srgb ([\d.]+) ([\d.]+) ([\d.]+)/.exec(css);
  if (srgb) return [Number(srgb[1]), Number(srgb[2]), Number(srgb[3])];
  throw new Error(`cannot read the colour ${css}`);
}

/** WCAG 2 contrast ratio of two computed colours. */
function contrastRatio(a: string, b: string): number {
  const luminance = (css: string) => {
    const [r, g, b] = channels(css).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4)) as [number, number, number];
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (light + 0.05) / (dark + 0.05);
}

/** The contrast of the first element matching `selector` against the background it is drawn on. */
async function contrastOf(page: Page, selector: string): Promise<number> {
  const [color, background] = await page.locator(selector).first().evaluate((element) => {
    const view = globalThis as unknown as StyleReader;
    let at = element as unknown as Styled | null;
    let background = "rgba(0, 0, 0, 0)";
    while (at !== null && (background === "rgba(0, 0, 0, 0)" || background === "transparent")) {
      background = view.getComputedStyle(at).backgroundColor;
      at = at.parentElement;
    }
    return [view.getComputedStyle(element as unknown as Styled).color, background] as const;
  });
  return contrastRatio(color, background);
}

describe.skipIf(skip)("the dashboard's runners, resources and version columns in Chromium", () => {
  let rig: DashboardRig;
  let store: Store;
  let server: StoreServer;
  let browser: Browser;
  let all: Rollout[];

  beforeAll(async () => {
    rig = await startDashboardRig(dir, TOKEN);
    ({ store, server, browser } = rig);
    all = (await store.queryRollouts({ limit: 1000 })).items;
    mkdirSync(images, { recursive: true });
  }, 120_000);
  afterAll(async () => {
    await rig?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Signs in with the token link, then goes to `hash`. */
  const open = async (hash: string, colorScheme: "light" | "dark" = "light") => goTo(await openTab(browser, `${server.url}/#token=${TOKEN}`, colorScheme), hash);
  /** Opens the dashboard, then goes to `hash` inside it, as a link would. */
  async function goTo<P extends Page>(page: P, hash: string): Promise<P> {
    await page.locator("#live[data-state='live']").waitFor();
    if (hash !== "") await page.evaluate((target) => void ((globalThis as unknown as { location: { hash: string } }).location.hash = target), hash);
    return page;
  }
  const row = (page: Page, rolloutId: string) => page.locator(`#rollouts > tbody > tr[data-rollout-id='${rolloutId}']`);
  const focusedId = (page: Page) => page.evaluate(() => (globalThis as unknown as BrowserGlobals).document.activeElement?.id ?? "");

  /** A rollout claimed by `workerId`, with its attempt. */
  async function claimed(input: unknown, workerId: string, options: { resourcesId?: string; heartbeatTimeoutMs?: number } = {}) {
    const { rolloutId } = await store.enqueue({
      input: input as never,
      mode: "test",
      ...(options.resourcesId === undefined ? {} : { resourcesId: options.resourcesId }),
      ...(options.heartbeatTimeoutMs === undefined ? {} : { config: { heartbeatTimeoutMs: options.heartbeatTimeoutMs } }),
    });
    const [claim] = await store.dequeue({ workerId });
    expect(claim!.rollout.rolloutId).toBe(rolloutId);
    return { rolloutId, attemptId: claim!.attempt.attemptId };
  }

  it("names each rollout's worker and resources version, the policy version its calls recorded, and fits 1280 px", async () => {
    // A known rollout of the APO run: its worker and the version of the snapshot it ran with.
    const known = all.find((r) => r.mode === "train" && r.resourcesId !== null && r.attempts.length > 0)!;
    const version = (await store.getResources(known.resourcesId!)).version;
    // Two rollouts served by a versioned policy: one whose call recorded version 4 (the policy moved
    // on after the snapshot was published with 3), one with no call yet.
    const rl = await store.addResources({ main: { kind: "llm", baseUrl: "http://127.0.0.1:9/v1", model: "policy-model", policyVersion: 3, apiKey: "sk-hidden" } });
    const called = await claimed({ question: "policy served" }, "policy-worker", { resourcesId: rl.resourcesId });
    const now = Date.now();
    await store.addSpans([
      { rolloutId: called.rolloutId, attemptId: called.attemptId, traceId, spanId: "3".repeat(16), name: "chat policy-model", startTime: now, endTime: now + 5, attributes: { "tracetrain.span.type": "llm", "tracetrain.llm.policy_version": 4 } },
    ]);
    await store.completeAttempt(called.rolloutId, called.attemptId, { status: "succeeded", finalReward: 1 });
    const waiting = await claimed({ question: "policy not called yet" }, "policy-worker", { resourcesId: rl.resourcesId });

    const page = await open(`#/?text=${known.rolloutId}`);
    const knownRow = row(page, known.rolloutId);
    await knownRow.locator("td.resources").filter({ hasText: `v${version}` }).waitFor();
    expect(await knownRow.locator("td.resources").getAttribute("title")).toBe(known.resourcesId);
    expect(await knownRow.locator("td.worker").innerText()).toBe(known.attempts.at(-1)!.workerId);
    // No LLM resource of the APO run names a policy version.
    expect(await knownRow.locator("td.policy").innerText()).toBe("—");

    await goTo(page, "#/?text=policy");
    await row(page, called.rolloutId).locator("td.policy").filter({ hasText: /^4$/ }).waitFor();
    expect(await row(page, called.rolloutId).locator("td.policy").getAttribute("title")).toContain("recorded by the gateway");
    await row(page, waiting.rolloutId).locator("td.policy").filter({ hasText: /^3$/ }).waitFor();
    expect(await row(page, waiting.rolloutId).locator("td.policy").getAttribute("title")).toContain("published with the resources");
    expect(await row(page, called.rolloutId).locator("td.resources").innerText()).toBe(`v${rl.version}`);
    expect(await row(page, called.rolloutId).locator("td.worker").innerText()).toBe("policy-worker");

    // Everything at once, at 1280 px: no horizontal scrolling; a long task is cut, with its full text kept.
    await goTo(page, "#/");
    await page.locator("#rollouts td.policy").first().waitFor();
    await page.waitForFunction(() => !Array.from((globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ textContent: string | null }> } }).document.querySelectorAll("#rollouts td.resources"), (c) => c.textContent).includes("…"));
    expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobals).document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
    const longTask = all.find((r) => JSON.stringify(r.input).length > 80)!;
    await goTo(page, `#/?text=${longTask.rolloutId}`);
    const task = row(page, longTask.rolloutId).locator("td.task");
    await task.waitFor();
    expect((await task.getAttribute("title"))!.length).toBeGreaterThan((await task.innerText()).length);
    await page.getByRole("button", { name: `Attempts of ${longTask.rolloutId}` }).click();
    await page.locator(`[id="attempts-${longTask.rolloutId}"] .task-full summary`).click();
    expect(JSON.parse(await page.locator(`[id="attempts-${longTask.rolloutId}"] .task-full pre`).innerText())).toEqual(longTask.input);
    // Each snapshot was read once since the page loaded, however many rows and views showed it.
    const snapshotReads = await page.evaluate(() =>
      (globalThis as unknown as { performance: { getEntriesByType(type: string): Array<{ name: string }> } }).performance
        .getEntriesByType("resource")
        .map((entry) => new URL(entry.name).pathname)
        .filter((path) => path.startsWith("/v1/resources/")),
    );
    expect(snapshotReads.length).toBeGreaterThan(1);
    expect(snapshotReads.length).toBe(new Set(snapshotReads).size);
    expect(page.errors).toEqual([]);
    await page.context().close();
  });

  it("puts rows back in order when a live change moves a rollout under a reward sort, and keeps the keyboard focus", async () => {
    const low = await claimed({ question: "resort low" }, "resort-worker");
    await store.completeAttempt(low.rolloutId, low.attemptId, { status: "succeeded", finalReward: 0.2 });
    const high = await claimed({ question: "resort high" }, "resort-worker");
    const page = await open("#/?text=resort&sortBy=finalReward&order=desc");
    const ids = () => page.locator("#rollouts > tbody > tr[data-rollout-id]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-rollout-id")));
    await row(page, high.rolloutId).waitFor();
    expect(await ids()).toEqual([low.rolloutId, high.rolloutId]);
    await page.getByRole("button", { name: `Attempts of ${high.rolloutId}` }).focus();

    await store.completeAttempt(high.rolloutId, high.attemptId, { status: "succeeded", finalReward: 0.9 });
    await row(page, high.rolloutId).and(page.locator("[data-status='succeeded']")).waitFor();
    await expect.poll(ids).toEqual([high.rolloutId, low.rolloutId]);
    expect(await focusedId(page)).toBe(`expand-${high.rolloutId}`);
    // The focus is where it was: Enter opens that rollout's attempts.
    await page.keyboard.press("Enter");
    await page.locator(`[id="attempts-${high.rolloutId}"] tr[data-attempt-id='${high.attemptId}']`).waitFor();
    expect(page.errors).toEqual([]);
    await page.context().close();
  });

  it("lists the trainer's workers, then a worker's current rollout live, late past its heartbeat timeout, and idle once done", async () => {
    const known = await store.workers();
    expect(known.length).toBeGreaterThanOrEqual(2);
    const page = await open("#/runners");
    const rows = page.locator("#runners > tbody > tr[data-worker-id]");
    await rows.first().waitFor();
    expect(new Set(await rows.evaluateAll((r) => r.map((e) => e.getAttribute("data-worker-id"))))).toEqual(new Set(known.map((w) => w.workerId)));
    expect(await page.getByRole("link", { name: "Runners" }).getAttribute("aria-current")).toBe("page");
    const trainerWorker = known.find((w) => w.stats !== null) ?? known[0]!;
    const trainerRow = page.locator(`#runners tr[data-worker-id='${trainerWorker.workerId}']`);
    expect(await trainerRow.getAttribute("data-status")).toBe(trainerWorker.status);
    for (const key of Object.keys(trainerWorker.stats ?? {})) expect(await trainerRow.locator(".stats dt").allInnerTexts()).toContain(key);

    // A worker claims a rollout while the page is open: it appears, busy, with a link to the trace.
    const workers: string[] = [];
    page.on("request", (request) => {
      if (new URL(request.url()).pathname === "/v1/workers") workers.push(request.url());
    });
    const running = await claimed({ question: "watched on the runners page" }, "runners-page-worker", { heartbeatTimeoutMs: 1000 });
    await store.heartbeat({ workerId: "runners-page-worker", attempts: [running], stats: { host: "test-host", pid: 4242 } });
    const busy = page.locator("#runners tr[data-worker-id='runners-page-worker'][data-status='busy']");
    await busy.locator(`li[data-rollout-id='${running.rolloutId}'] a`).waitFor();
    expect(await busy.locator(".stats").innerText()).toContain("4242");
    // Silent past its rollout's 1 s heartbeat timeout: late, said in words as well as colour. Ages tick
    // in the page: no request was needed for that.
    const reads = workers.length;
    await busy.locator(".age.late").filter({ hasText: "(late)" }).waitFor();
    expect(await busy.locator("td.time").nth(1).getAttribute("title")).toContain("late after 1 s, the heartbeat timeout of its rollouts");
    expect(workers.length).toBe(reads);
    await page.screenshot({ path: join(images, "dashboard-runners.png") });
    // Readable in both themes (WCAG AA for text: 4.5:1): the late age, a busy status, a trace link.
    const dark = await open("#/runners", "dark");
    await dark.locator("#runners tr[data-worker-id='runners-page-worker'] .age.late").waitFor();
    for (const tab of [page, dark]) {
      for (const selector of ["#runners .age.late", "#runners .status-busy", "#runners ul.current a", "#runners th[scope='row']"]) {
        expect(await contrastOf(tab, selector), selector).toBeGreaterThanOrEqual(4.5);
      }
    }
    await dark.context().close();

    await busy.locator(`li[data-rollout-id='${running.rolloutId}'] a`).click();
    await page.waitForURL(`**/#/trace/${running.rolloutId}/${running.attemptId}`);
    await page.goBack();
    await page.locator("#runners tr[data-worker-id='runners-page-worker']").waitFor();
    await store.completeAttempt(running.rolloutId, running.attemptId, { status: "succeeded", finalReward: 1 });
    const idle = page.locator("#runners tr[data-worker-id='runners-page-worker'][data-status='idle']");
    await idle.waitFor();
    expect(await idle.locator("td").last().innerText()).toBe("—");
    expect(page.errors).toEqual([]);
    await page.context().close();
  });
  it("lists the resources versions, shows what APO's candidate changed in the prompt side by side, and shows a new version live", async () => {
    // The store's listing, newest first, as the page reads it (GET /v1/resources).
    const listing = await fetch(`${server.url}/v1/resources?limit=1000`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(listing.status, "GET /v1/resources, the store's resources listing").toBe(200);
    const versions = ((await listing.json()) as { items: ResourcesSnapshot[] }).items;
    expect(versions.length).toBeGreaterThan(2);
    // APO's published candidate (a child of the seed, which it publishes just before): the prompt it edited.
    const origin = (v: ResourcesSnapshot) => {
      const resource = v.resources["tracetrain.apo"];
      return resource?.kind === "json" ? (resource.value as { candidate?: string; parent?: string; target?: string }) : undefined;
    };
    const template = (v: ResourcesSnapshot, name: string) => {
      const resource = v.resources[name];
      return resource?.kind === "prompt_template" ? resource.template : undefined;
    };
    const candidate = versions.find((v) => origin(v)?.parent === "seed")!;
    const previous = versions[versions.indexOf(candidate) + 1]!;
    expect(origin(previous)?.candidate).toBe("seed");
    const target = origin(candidate)!.target!;
    const [edited, seed] = [template(candidate, target)!, template(previous, target)!];
    expect(edited).not.toBe(seed);
    const lines = (text: string) => text.split("\n");

    const page = await open("#/resources");
    const rows = page.locator("#versions > tbody > tr[data-resources-id]");
    await rows.first().waitFor();
    expect(await rows.evaluateAll((r) => r.map((e) => e.getAttribute("data-resources-id")))).toEqual(versions.map((v) => v.resourcesId));
    expect(await page.getByRole("link", { name: "Resources" }).getAttribute("aria-current")).toBe("page");

    await page.getByRole("button", { name: `Changes in version ${candidate.version}` }).click();
    await page.locator("#diff-title").filter({ hasText: `v${candidate.version} (${candidate.resourcesId}) against v${previous.version} (${previous.resourcesId})` }).waitFor();
    expect(new URL(page.url()).hash).toBe(`#/resources/${candidate.resourcesId}`);
    const change = page.locator(`#diff article[data-resource='${target}']`);
    expect(await change.getAttribute("data-change")).toBe("changed");
    const added = lines(edited).filter((line) => !lines(seed).includes(line));
    expect(added.length).toBeGreaterThan(0);
    expect(await change.locator("td.after ins").allInnerTexts()).toEqual(added);
    expect(await change.locator("td.before del").allInnerTexts()).toEqual(lines(seed).filter((line) => !lines(edited).includes(line)));
    await page.screenshot({ path: join(images, "dashboard-resources.png") });
    const dark = await open(`#/resources/${candidate.resourcesId}`, "dark");
    await dark.locator(`#diff article[data-resource='${target}'] td.after ins`).first().waitFor();
    for (const tab of [page, dark]) {
      for (const selector of ["#diff td.after ins", "#diff .ln", "#diff .badge", "#versions .kind"]) {
        expect(await contrastOf(tab, selector), selector).toBeGreaterThanOrEqual(4.5);
      }
    }
    await dark.context().close();

    // A version published while the page is open joins the top; the diff stays on the chosen one.
    const published = await store.addResources({ main: { kind: "llm", baseUrl: "http://127.0.0.1:9/v1", model: "live-model", apiKey: "sk-live-secret", policyVersion: 5 } });
    await page.locator(`#versions > tbody > tr[data-resources-id='${published.resourcesId}']`).waitFor();
    expect(await rows.first().getAttribute("data-resources-id")).toBe(published.resourcesId);
    expect(await page.locator("#diff-title").innerText()).toContain(candidate.resourcesId);
    // Its LLM endpoint compares field by field, and its key is never shown.
    await page.getByRole("button", { name: `Changes in version ${published.version}` }).press("Enter");
    const model = page.locator(`#diff article[data-resource='main'] tr[data-field='model']`);
    await model.filter({ hasText: "live-model" }).waitFor();
    expect(await model.getAttribute("class")).toBe("diff-changed");
    expect(await page.locator(`#diff article[data-resource='main'] tr[data-field='apiKey'] td.after`).innerText()).toContain("(set)");
    expect(await page.locator("main").innerText()).not.toContain("sk-live-secret");
    expect(await focusedId(page)).toBe(`version-${published.resourcesId}`);
    expect(page.errors).toEqual([]);
    await page.context().close();
  });
});
