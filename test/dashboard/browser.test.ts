/**
 * The dashboard in a real Chromium (playwright-core driving Debian's /usr/bin/chromium) against a
 * real store server on loopback, over a SQLite store filled by real runs (APO on the room task,
 * a two-agent team): what a user sees — rows, filters, an expanded row's attempts, a waterfall bar
 * per span, chat messages — a live change arriving without reload, and the token gate. Takes the
 * dashboard guide's screenshots (docs/images/, shown in docs/dashboard.md).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Rollout, Span, Store } from "tracetrain";
import type { StoreServer } from "tracetrain/server";
import { CHROMIUM, type DashboardRig, startDashboardRig } from "./support.js";

const hasChromium = existsSync(CHROMIUM);
// Skipped on a machine without Chromium, never in CI (.ci/run installs it): there a missing browser fails.
const skip = !hasChromium && process.env.CI !== "true";
if (skip) console.warn(`SKIPPED: the dashboard browser tests need Chromium at ${CHROMIUM} (apt-get install -y --no-install-recommends chromium); CI installs it.`);

const TOKEN = "browser-s3cret";
/** What the functions run in the page use (this project's TypeScript has no DOM types). */
interface BrowserGlobals {
  document: { querySelectorAll(selector: string): { length: number } };
  location: { hash: string };
}
const dir = mkdtempSync(join(tmpdir(), "tracetrain-dashboard-browser-"));
// Screenshots are always taken; they replace the dashboard guide's (docs/images/) only when asked, so a
// test run does not leave the working tree changed: UPDATE_SCREENSHOTS=1 npx vitest run test/dashboard
const images = process.env.UPDATE_SCREENSHOTS === "1" ? fileURLToPath(new URL("../../docs/images/", import.meta.url)) : join(dir, "images");

describe.skipIf(skip)("the dashboard in Chromium", () => {
  let store: Store;
  let server: StoreServer;
  let browser: Browser;
  let all: Rollout[];

  let rig: DashboardRig | undefined;

  beforeAll(async () => {
    rig = await startDashboardRig(dir, TOKEN);
    ({ store, server, browser } = rig);
    all = (await store.queryRollouts({ limit: 1000 })).items;
    mkdirSync(images, { recursive: true });
  }, 60_000);
  afterAll(async () => {
    await rig?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A fresh tab (its own sessionStorage) that fails the test on any uncaught page error. */
  async function open(hash: string, colorScheme: "light" | "dark" = "light"): Promise<Page & { errors: string[] }> {
    // UTC, so a test can type a creation time as the store's ISO time.
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme, timezoneId: "UTC" });
    const page = (await context.newPage()) as Page & { errors: string[] };
    page.errors = [];
    page.on("pageerror", (error) => page.errors.push(error.message));
    await page.goto(`${server.url}/${hash}`);
    return page;
  }

  const ROWS = "#rollouts > tbody > tr[data-rollout-id]";
  const rowsOf = (page: Page) => page.locator(ROWS);
  /** Waits until the table shows `n` rollout rows (the page re-renders when a filter's request returns). */
  // Functions, not strings: the page's Content-Security-Policy forbids evaluating strings.
  const rowCount = (page: Page, n: number) => page.waitForFunction(([selector, count]) => (globalThis as unknown as BrowserGlobals).document.querySelectorAll(selector).length === count, [ROWS, n] as const);
  const idsOf = (rollouts: readonly Rollout[]) => rollouts.map((r) => r.rolloutId);
  /** Waits until the table shows exactly these rollouts, in this order. */
  const rowIds = (page: Page, ids: readonly string[]) =>
    page.waitForFunction(
      ([selector, expected]) => {
        const rows = (globalThis as unknown as BrowserGlobals).document.querySelectorAll(selector) as unknown as ArrayLike<{ getAttribute(name: string): string | null }>;
        return Array.from(rows, (r) => r.getAttribute("data-rollout-id")).join(",") === expected;
      },
      [ROWS, ids.join(",")] as const,
    );
  /** The store's first page (25, as the page shows) for a query. */
  const firstPage = async (query: Parameters<Store["queryRollouts"]>[0]) => (await store.queryRollouts({ order: "desc", ...query, limit: 25 })).items;
  /** Navigates inside the page, as a link would (no reload: the session's token stays). */
  const goTo = (page: Page, hash: string) =>
    page.evaluate((target) => {
      (globalThis as unknown as BrowserGlobals).location.hash = target;
    }, hash);

  it("without a token shows only the login form, and no data", async () => {
    const page = await open("");
    await page.getByLabel("Token").waitFor();
    expect(await page.locator("#rollouts").count()).toBe(0);
    expect(await page.locator("main").innerText()).not.toContain(all[0]!.rolloutId);
    await page.screenshot({ path: join(images, "dashboard-login.png") });
    expect(page.errors).toEqual([]);
    await page.context().close();
  });

  it("says a wrong token was refused, and opens with the right one typed in the form", async () => {
    const page = await open("#token=wrong-token");
    await page.getByRole("alert").filter({ hasText: "That token was refused by the store server." }).waitFor();
    expect(await page.locator("#rollouts").count()).toBe(0);
    await page.getByLabel("Token").fill(TOKEN);
    await page.getByRole("button", { name: "Open dashboard" }).click();
    await rowsOf(page).first().waitFor();
    // The token left the address bar as soon as it was read.
    expect(page.url()).not.toContain("token");
    expect(page.errors).toEqual([]);
    await page.context().close();
  });

  it("lists rollouts newest first, filters by mode and status, and expands a row into its attempts", async () => {
    const page = await open(`#token=${TOKEN}`);
    await rowsOf(page).first().waitFor();
    const newest = (await store.queryRollouts({ order: "desc", limit: 25 })).items;
    expect(await rowsOf(page).count()).toBe(Math.min(25, all.length));
    expect(await rowsOf(page).first().getAttribute("data-rollout-id")).toBe(newest[0]!.rolloutId);

    await page.getByLabel("Mode").selectOption("test");
    const tests = all.filter((r) => r.mode === "test");
    await rowCount(page, tests.length);
    expect(new Set(await rowsOf(page).locator("td:nth-child(4)").allInnerTexts())).toEqual(new Set(["test"]));

    await page.getByLabel("Mode").selectOption("");
    await page.getByLabel("Status").selectOption("failed");
    const failed = all.filter((r) => r.status === "failed").length;
    await rowCount(page, failed);
    await page.getByLabel("Status").selectOption("");
    await rowCount(page, Math.min(25, all.length));

    const first = newest[0]!;
    await page.getByRole("button", { name: `Attempts of ${first.rolloutId}` }).click();
    const attempts = page.locator(`#attempts-${first.rolloutId} tr[data-attempt-id]`);
    await attempts.first().waitFor();
    expect(await attempts.count()).toBe(first.attempts.length);
    expect(await attempts.first().getAttribute("data-attempt-id")).toBe(first.attempts[0]!.attemptId);
    expect(await page.getByRole("button", { name: `Attempts of ${first.rolloutId}` }).getAttribute("aria-expanded")).toBe("true");
    await page.screenshot({ path: join(images, "dashboard-rollouts.png"), fullPage: false });
    expect(page.errors).toEqual([]);
    await page.context().close();
  });

  it("shows a rollout enqueued while the page is open, then its status change, without a reload", async () => {
    const page = await open(`#token=${TOKEN}`);
    await page.locator("#live[data-state='live']").waitFor();
    await rowsOf(page).first().waitFor();
    const rollout = await store.enqueue({ input: { question: "live one" }, mode: "val" });
    const row = page.locator(`#rollouts tr[data-rollout-id='${rollout.rolloutId}']`);
    await row.waitFor();
    expect(await row.getAttribute("data-status")).toBe("queuing");
    await store.cancelRollout(rollout.rolloutId);
    await page.locator(`#rollouts tr[data-rollout-id='${rollout.rolloutId}'][data-status='cancelled']`).waitFor();
    expect(page.errors).toEqual([]);
    await page.context().close();
  });

  const ROW = "#waterfall .wf-body [data-span-id]";
  /** A signed-in tab showing the trace at `hash` (the token link itself always opens the rollouts). */
  const openTrace = async (hash: string) => {
    const page = await open(`#token=${TOKEN}`);
    await goTo(page, hash);
    return page;
  };
  /** The room task's first rewarded train rollout: an APO run's traced attempt with tool calls. */
  const roomAttempt = () => {
    const room = all.find((r) => r.mode === "train" && r.status === "succeeded" && r.attempts[0]!.spanCount > 3)!;
    return { rolloutId: room.rolloutId, attemptId: room.attempts[0]!.attemptId };
  };
  const teamRollout = () => all.find((r) => r.mode === "test")!;
  /** The two-agent team's first attempt and its spans, as stored. */
  const teamAttempt = async () => {
    const { rolloutId, attemptId } = teamRollout().attempts[0]!;
    return { rolloutId, attemptId, spans: (await store.querySpans({ rolloutId, attemptId, limit: 10_000 })).items as Span[] };
  };

  it("draws an attempt's span tree with a waterfall bar per span, its rewards, and its LLM calls as chat with tool calls", async () => {
    const { rolloutId, attemptId } = roomAttempt();
    const spans = (await store.querySpans({ rolloutId, attemptId, limit: 10_000 })).items as Span[];
    const page = await open(`#token=${TOKEN}`);
    await rowsOf(page).first().waitFor();
    await goTo(page, `#/trace/${rolloutId}/${attemptId}`);
    await page.locator(`#waterfall[data-drawn='${spans.length}']`).waitFor();
    expect(await page.locator(`${ROW} .wf-span`).count()).toBe(spans.length);
    expect(new Set(await page.locator(ROW).evaluateAll((rows) => rows.map((r) => r.getAttribute("data-span-id"))))).toEqual(new Set(spans.map((s) => s.spanId)));
    // Children sit under their parent: deeper rows are indented further.
    const root = spans.find((s) => s.parentId === null)!;
    const child = spans.find((s) => s.parentId === root.spanId)!;
    expect(await page.locator(`#waterfall [data-span-id='${child.spanId}']`).getAttribute("aria-level")).toBe("2");
    const rewardSpans = spans.filter((s) => typeof s.attributes["tracetrain.reward.value"] === "number");
    expect(await page.locator(".rewards .reward text").allTextContents()).toEqual(rewardSpans.map((s) => String(s.attributes["tracetrain.reward.value"])));
    expect(rewardSpans.length).toBeGreaterThan(0);
    const chat = page.locator(".chat");
    await chat.first().waitFor();
    expect(await chat.locator(".msg[data-role='system']").count()).toBeGreaterThan(0);
    expect(await chat.locator(".msg[data-role='user']").count()).toBeGreaterThan(0);
    expect(await chat.locator(".msg.response[data-role='assistant']").count()).toBeGreaterThan(0);
    expect(await chat.locator(".tool-call .tool-name").first().textContent()).toBe("get_rooms_and_availability");
    expect(await chat.locator(".msg[data-role='tool']").count()).toBeGreaterThan(0);
    await page.screenshot({ path: join(images, "dashboard-trace.png"), fullPage: false });
    expect(page.errors).toEqual([]);
    await page.context().close();
  });

  it("opens a span with every attribute it recorded, from the keyboard or by clicking its row", async () => {
    const { rolloutId, attemptId } = roomAttempt();
    const spans = (await store.querySpans({ rolloutId, attemptId, limit: 10_000 })).items as Span[];
    const llm = spans.find((s) => s.attributes["tracetrain.span.type"] === "llm")!;
    const page = await openTrace(`#/trace/${rolloutId}/${attemptId}`);
    await page.locator("#waterfall[data-drawn]").waitFor();
    await page.locator(`#waterfall [data-span-id='${llm.spanId}']`).click();
    const detail = page.locator(`#span-detail .span-detail[data-span-id='${llm.spanId}']`);
    await detail.waitFor();
    // Attributes the outline does not carry are there, with their values.
    expect(await detail.locator("#span-attributes tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-key")))).toEqual(Object.keys(llm.attributes));
    expect(await detail.locator("tr[data-key='gen_ai.request.model'] td").innerText()).toBe(String(llm.attributes["gen_ai.request.model"]));
    // Keyboard: the grid is one tab stop; Home goes to the first row, Enter opens it.
    await page.locator("#waterfall").focus();
    await page.keyboard.press("Home");
    await page.keyboard.press("Enter");
    const first = await page.locator(`${ROW}[aria-selected='true']`).getAttribute("data-span-id");
    await page.locator(`#span-detail .span-detail[data-span-id='${first}']`).waitFor();
    await page.keyboard.press("ArrowDown");
    expect(await page.locator("#waterfall").getAttribute("aria-activedescendant")).toBe("wf-row-1");
    expect(page.errors).toEqual([]);
    await page.context().close();
  });

  it("names each agent's calls in a multi-agent trace, in the dark theme", async () => {
    const team = teamRollout();
    const page = await open(`#token=${TOKEN}`, "dark");
    await rowsOf(page).first().waitFor();
    await goTo(page, `#/trace/${team.rolloutId}/${team.attempts[0]!.attemptId}`);
    const calls = page.locator(".chat article h3");
    await calls.first().waitFor();
    const titles = await calls.allInnerTexts();
    expect(titles.some((t) => t.includes("planner"))).toBe(true);
    expect(titles.some((t) => t.includes("writer"))).toBe(true);
    expect(await page.locator(".chat").innerText()).toContain("1. Draft. 2. Review.");
    await page.screenshot({ path: join(images, "dashboard-trace-dark.png"), fullPage: false });
    expect(page.errors).toEqual([]);
    await page.context().close();
  });

  it("shows a call's exact token ids and logprobs when asked, and says plainly when a call has none", async () => {
    const { rolloutId, attemptId, spans } = await teamAttempt();
    const writer = spans.find((s) => s.attributes["tracetrain.span.type"] === "llm" && s.attributes["tracetrain.agent.name"] === "writer")!;
    const promptIds = writer.attributes["tracetrain.llm.prompt_token_ids"] as number[];
    const [responseIds] = writer.attributes["tracetrain.llm.response_token_ids"] as number[][];
    const [logprobs] = writer.attributes["tracetrain.llm.logprobs"] as number[][];
    expect(promptIds.length).toBeGreaterThan(0);
    const page = await openTrace(`#/trace/${rolloutId}/${attemptId}`);
    const toggle = page.getByLabel("Show token ids and logprobs");
    await toggle.waitFor();
    // Off by default: no token is shown until asked for.
    expect(await toggle.isChecked()).toBe(false);
    expect(await page.locator(".chat .tokens").count()).toBe(0);
    await toggle.check();
    const writerCall = page.locator(`.chat article[data-call-id='${writer.spanId}']`);
    expect(await writerCall.locator(".prompt-token-ids").innerText()).toBe(promptIds.join(" "));
    expect(await writerCall.locator(".response-token-ids").innerText()).toBe(responseIds!.join(" "));
    expect(await writerCall.locator(".logprobs tbody tr td:nth-child(3)").allInnerTexts()).toEqual(logprobs!.map((l) => l.toFixed(4)));
    const planner = page.locator(".chat article").filter({ hasText: "planner" });
    expect(await planner.locator(".text-only").innerText()).toContain("Text only: not trainable by RL");
    await writerCall.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(images, "dashboard-trace-tokens.png"), fullPage: false });
    await toggle.uncheck();
    expect(await page.locator(".chat .tokens").count()).toBe(0);
    expect(page.errors).toEqual([]);
    await page.context().close();
  });

  it("selects agents from the page: the summary says which calls become training data and why, and the selected agent's calls and spans are marked", async () => {
    const { rolloutId, attemptId } = teamRollout().attempts[0]!;
    const page = await openTrace(`#/trace/${rolloutId}/${attemptId}`);
    const summary = page.locator("#diagnostics-summary");
    await summary.waitFor();
    expect(await summary.innerText()).toBe("2 of 2 calls become training data");
    expect(await page.locator(".chat .badge-selected").count()).toBe(2);
    await page.getByRole("checkbox", { name: "planner" }).check();
    await page.waitForURL((url) => url.hash === `#/trace/${rolloutId}/${attemptId}?agents=planner`);
    await summary.filter({ hasText: "1 of 2 calls become training data; 1 dropped: 1 agent not selected" }).waitFor();
    const planner = page.locator(".chat article").filter({ hasText: "planner" });
    const writer = page.locator(".chat article").filter({ hasText: "writer" });
    expect(await planner.getAttribute("class")).toContain("agent-selected");
    expect(await planner.locator(".badge-selected").innerText()).toBe("training data");
    expect((await writer.getAttribute("class")) ?? "").not.toContain("agent-selected");
    expect(await writer.locator(".badge-dropped").innerText()).toBe("not training data: agent not selected");
    // The planner's spans are marked in the waterfall, the writer's are not.
    await page.locator("#waterfall[data-drawn]").waitFor();
    expect(await page.locator(`${ROW}[data-agent='planner']`).count()).toBeGreaterThan(0);
    expect(await page.locator(`${ROW}[data-agent='planner']:not(.agent-selected)`).count()).toBe(0);
    expect(await page.locator(`${ROW}.agent-selected:not([data-agent='planner'])`).count()).toBe(0);
    expect(await page.getByRole("checkbox", { name: "planner" }).isChecked()).toBe(true);
    await page.screenshot({ path: join(images, "dashboard-trace-agents.png"), fullPage: true });
    expect(page.errors).toEqual([]);
    await page.context().close();
  });

  it("reports which capture layer recorded each call", async () => {
    const { rolloutId, attemptId, spans } = await teamAttempt();
    const layers = new Map<string, number>();
    for (const s of spans) layers.set(String(s.attributes["tracetrain.layer"]), (layers.get(String(s.attributes["tracetrain.layer"])) ?? 0) + 1);
    const page = await openTrace(`#/trace/${rolloutId}/${attemptId}`);
    const table = page.locator("#coverage");
    await table.waitFor();
    const rows = (await table.locator("tbody tr").allInnerTexts()).map((text) => text.split("\t").map((cell) => cell.trim()));
    expect(new Map(rows.map(([layer, count]) => [layer, Number(count)]))).toEqual(layers);
    // Both calls went through the openai SDK; the writer's has token ids, the planner's is text only.
    expect(rows.find(([layer]) => layer === "openai")?.[2]).toBe("2");
    expect(await page.locator(".chat .badge-layers").allInnerTexts()).toEqual(["recorded by openai", "recorded by openai"]);
    expect(await page.locator("#coverage-warnings").innerText()).toContain("1 of 2 call(s) have no token ids (text only: not trainable by RL)");
    // The trace's token totals: the usage its two calls recorded, counted once.
    const usage = (key: string) => spans.filter((s) => s.attributes["tracetrain.span.type"] === "llm").reduce((n, s) => n + Number(s.attributes[key] ?? 0), 0);
    const [input, output] = [usage("gen_ai.usage.input_tokens"), usage("gen_ai.usage.output_tokens")];
    expect(input).toBeGreaterThan(0);
    expect(await page.locator("#tokens-summary").innerText()).toMatch(new RegExp(`^${input + output} tokens \\(${input} in, ${output} out; usage\\) · cost unknown \\(no price for `));
    expect(await page.locator("#tokens-by-model tbody tr").count()).toBeGreaterThan(0);
    // The rollouts list shows the same total in the rollout's row, the figures in its title.
    await page.evaluate(() => {
      (globalThis as unknown as BrowserGlobals).location.hash = "#/";
    });
    const cell = page.locator(`#rollouts tr[data-rollout-id='${rolloutId}'] td.tokens`);
    await cell.and(page.locator(`td.tokens:text-is('${input + output}')`)).waitFor();
    expect(await cell.getAttribute("title")).toMatch(new RegExp(`^${input + output} tokens \\(${input} in, ${output} out; usage\\)`));
    expect(page.errors).toEqual([]);
    await page.context().close();
  });

  it("draws a 3000-span attempt by the rows in view only, and reaches its last span from the keyboard", async () => {
    const { rolloutId } = await store.enqueue({ input: { question: "many spans" }, mode: "val" });
    const [claimed] = await store.dequeue({ workerId: "browser-test-worker" });
    const attemptId = claimed!.attempt.attemptId;
    const traceId = "c".repeat(32);
    const id = (n: number) => n.toString(16).padStart(16, "0");
    const now = Date.now();
    const spans = Array.from({ length: 3000 }, (_, n) => ({ rolloutId, attemptId, traceId, spanId: id(n + 1), parentId: n === 0 ? null : id(1), name: `step ${n}`, startTime: now + n, endTime: now + n + 5 }));
    await store.addSpans(spans);
    const page = await openTrace(`#/trace/${rolloutId}/${attemptId}`);
    await page.locator("#waterfall[data-drawn='3000']").waitFor();
    expect(await page.locator("#waterfall").getAttribute("aria-rowcount")).toBe("3001");
    const drawn = await page.locator(ROW).count();
    expect(drawn).toBeGreaterThan(10);
    expect(drawn).toBeLessThan(100);
    await page.locator("#waterfall").focus();
    await page.keyboard.press("End");
    const last = page.locator(`${ROW}[data-span-id='${id(3000)}']`);
    await last.waitFor();
    expect(await last.getAttribute("aria-selected")).toBe("true");
    expect(await last.isVisible()).toBe(true);
    expect(await page.locator(`${ROW}[data-span-id='${id(2)}']`).count()).toBe(0);
    expect(page.errors).toEqual([]);
    await page.context().close();
  });

  it("follows a running attempt: spans recorded while its trace is open appear as new bars", async () => {
    const { rolloutId } = await store.enqueue({ input: { question: "running" }, mode: "val" });
    const [claimed] = await store.dequeue({ workerId: "browser-test-worker" });
    expect(claimed!.rollout.rolloutId).toBe(rolloutId);
    const attemptId = claimed!.attempt.attemptId;
    const traceId = "a".repeat(32);
    const now = Date.now();
    await store.addSpans([{ rolloutId, attemptId, traceId, spanId: "1".repeat(16), name: "tracetrain.rollout", startTime: now, endTime: now + 50 }]);
    const page = await open(`#token=${TOKEN}`);
    await page.locator("#live[data-state='live']").waitFor();
    await goTo(page, `#/trace/${rolloutId}/${attemptId}`);
    await page.locator("#waterfall [data-span-id='1111111111111111']").waitFor();
    await store.addSpans([{ rolloutId, attemptId, traceId, spanId: "2".repeat(16), parentId: "1".repeat(16), name: "step two", startTime: now + 10, endTime: now + 40 }]);
    await page.locator("#waterfall [data-span-id='2222222222222222'] .wf-span").waitFor();
    expect(await page.locator(ROW).count()).toBe(2);
    expect(page.errors).toEqual([]);
    await page.context().close();
  });

  it("sorts by reward both ways from its column header, by mouse or keyboard, as the store orders", async () => {
    const page = await open(`#token=${TOKEN}`);
    await rowIds(page, idsOf(await firstPage({})));
    const header = page.getByRole("columnheader", { name: "Reward" });
    expect(await header.getAttribute("aria-sort")).toBe("none");
    expect(await page.getByRole("columnheader", { name: "Created" }).getAttribute("aria-sort")).toBe("descending");
    await header.getByRole("button").click();
    const highest = await firstPage({ sortBy: "finalReward", order: "desc" });
    await rowIds(page, idsOf(highest));
    expect(await header.getAttribute("aria-sort")).toBe("descending");
    expect(await page.getByRole("columnheader", { name: "Created" }).getAttribute("aria-sort")).toBe("none");
    await header.getByRole("button").focus();
    await page.keyboard.press("Enter");
    const lowest = await firstPage({ sortBy: "finalReward", order: "asc" });
    await rowIds(page, idsOf(lowest));
    expect(await header.getAttribute("aria-sort")).toBe("ascending");
    // The two orders differ (rewards vary), and unrewarded rollouts come last in both.
    expect(idsOf(lowest)).not.toEqual(idsOf(highest));
    expect(new URL(page.url()).hash).toBe("#/?sortBy=finalReward&order=asc");
    expect(page.errors).toEqual([]);
    await page.context().close();
  });

  it("narrows the rows by text, by reward range and by creation time, as the store does", async () => {
    const total = (await firstPage({})).length;
    const page = await open(`#token=${TOKEN}`);
    await rowCount(page, total);

    await page.getByLabel("Text").fill("HAIKU");
    await page.getByLabel("Text").press("Enter");
    const haiku = await firstPage({ text: "HAIKU" });
    expect(haiku.length).toBeGreaterThan(0);
    expect(haiku.length).toBeLessThan(total);
    await rowIds(page, idsOf(haiku));
    await page.getByLabel("Text").fill("");
    await page.getByLabel("Text").press("Enter");
    await rowCount(page, total);

    await page.getByLabel("Min reward").fill("0.5");
    await page.getByLabel("Max reward").fill("1");
    await page.getByRole("button", { name: "Apply" }).click();
    const rewarded = await firstPage({ minReward: 0.5, maxReward: 1 });
    expect(rewarded.length).toBeGreaterThan(0);
    expect(rewarded.length).toBeLessThan(total);
    await rowIds(page, idsOf(rewarded));
    expect(rewarded.every((r) => r.finalReward !== null && r.finalReward >= 0.5 && r.finalReward <= 1)).toBe(true);
    await page.getByLabel("Min reward").fill("");
    await page.getByLabel("Max reward").fill("");
    await page.getByRole("button", { name: "Apply" }).click();
    await rowCount(page, total);

    // A creation time between the oldest and the newest rollout splits them.
    const times = [...new Set(all.map((r) => r.createdAt))].sort((a, b) => a - b);
    const pivot = times[Math.floor(times.length / 2)]!;
    await page.getByLabel("Created after").fill(new Date(pivot).toISOString().slice(0, 23));
    await page.getByRole("button", { name: "Apply" }).click();
    const later = await firstPage({ createdAfter: pivot });
    expect(later.length).toBeGreaterThan(0);
    expect(later.length).toBeLessThan(total);
    await rowIds(page, idsOf(later));
    await page.getByLabel("Created before").fill(new Date(pivot + 1).toISOString().slice(0, 23));
    await page.getByRole("button", { name: "Apply" }).click();
    await rowIds(page, idsOf(await firstPage({ createdAfter: pivot, createdBefore: pivot + 1 })));
    expect(new URL(page.url()).hash).toBe(`#/?createdAfter=${pivot}&createdBefore=${pivot + 1}`);
    expect(page.errors).toEqual([]);
    await page.context().close();
  });

  it("explains a bad number and a reversed range next to the field, and sends neither", async () => {
    const page = await open(`#token=${TOKEN}`);
    const queries: string[] = [];
    page.on("request", (request) => {
      if (new URL(request.url()).pathname === "/v1/rollouts") queries.push(new URL(request.url()).search);
    });
    const shown = idsOf(await firstPage({}));
    await rowIds(page, shown);

    await page.getByLabel("Min reward").fill("lots");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.locator("#problem-minReward").filter({ hasText: "Not a number: “lots”." }).waitFor();
    expect(await page.getByLabel("Min reward").getAttribute("aria-invalid")).toBe("true");
    expect(await page.getByLabel("Min reward").getAttribute("aria-describedby")).toBe("problem-minReward");

    await page.getByLabel("Min reward").fill("2");
    await page.getByLabel("Max reward").fill("1");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.locator("#problem-maxReward").filter({ hasText: "Must be at least the minimum reward (2)." }).waitFor();
    expect(await page.locator("#problem-minReward").isHidden()).toBe(true);
    await page.getByLabel("Created after").fill("2026-01-02T00:00:00.000");
    await page.getByLabel("Created before").fill("2026-01-01T00:00:00.000");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.locator("#problem-createdBefore").filter({ hasText: "Must be later than “created after”." }).waitFor();
    expect(new URL(page.url()).hash).toBe("#/");

    // Once fixed, the view is sent; requests go out in order, so a bad one would have come before.
    await page.getByLabel("Created after").fill("");
    await page.getByLabel("Created before").fill("");
    await page.getByLabel("Max reward").fill("3");
    const sent = page.waitForRequest((request) => new URL(request.url()).searchParams.get("maxReward") === "3");
    await page.getByRole("button", { name: "Apply" }).click();
    await sent;
    await rowIds(page, idsOf(await firstPage({ minReward: 2, maxReward: 3 })));
    expect(await page.locator(".field-error:not([hidden])").count()).toBe(0);
    const withReward = queries.map((q) => new URLSearchParams(q)).filter((q) => q.has("minReward") || q.has("maxReward") || q.has("createdAfter") || q.has("createdBefore"));
    expect(withReward.map((q) => `${q.get("minReward")}..${q.get("maxReward")}`)).toEqual(["2..3"]);

    // A hand-edited link is checked the same way: explained, not sent; the rest of it still shows.
    await goTo(page, "#/?maxReward=x1&sortBy=finalReward&order=asc");
    await page.locator("#problem-maxReward").filter({ hasText: "Not a number: “x1”." }).waitFor();
    expect(await page.getByLabel("Max reward").inputValue()).toBe("x1");
    expect(await page.getByRole("columnheader", { name: "Reward" }).getAttribute("aria-sort")).toBe("ascending");
    await page.getByLabel("Max reward").fill("1");
    const fixed = page.waitForRequest((request) => new URL(request.url()).searchParams.get("maxReward") === "1");
    await page.getByLabel("Max reward").press("Enter");
    await fixed;
    await rowIds(page, idsOf(await firstPage({ maxReward: 1, sortBy: "finalReward", order: "asc" })));
    expect(queries.filter((q) => q.includes("x1"))).toEqual([]);
    expect(page.errors).toEqual([]);
    await page.context().close();
  });

  it("keeps the view in the address: a reload, and a shared link opened elsewhere, show the same rows", async () => {
    const page = await open(`#token=${TOKEN}`);
    await rowCount(page, (await firstPage({})).length);
    await page.getByLabel("Mode").selectOption("train");
    await page.getByLabel("Min reward").fill("0");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.getByRole("columnheader", { name: "Duration" }).getByRole("button").click();
    const expected = idsOf(await firstPage({ mode: ["train"], minReward: 0, sortBy: "duration", order: "desc" }));
    expect(expected.length).toBeGreaterThan(0);
    await rowIds(page, expected);
    const hash = new URL(page.url()).hash;
    expect(hash).toBe("#/?mode=train&minReward=0&sortBy=duration&order=desc");

    await page.reload();
    await rowIds(page, expected);
    expect(await page.getByLabel("Mode").inputValue()).toBe("train");
    expect(await page.getByLabel("Min reward").inputValue()).toBe("0");
    expect(await page.getByRole("columnheader", { name: "Duration" }).getAttribute("aria-sort")).toBe("descending");

    // Someone else opens the link: after the token, the same view.
    const other = await open(hash);
    await other.getByLabel("Token").fill(TOKEN);
    await other.getByRole("button", { name: "Open dashboard" }).click();
    await rowIds(other, expected);
    expect(page.errors).toEqual([]);
    expect(other.errors).toEqual([]);
    await page.context().close();
    await other.context().close();
  });

  it("pages through rollouts with the cursor API: Older and Newer", async () => {
    await store.enqueueMany(Array.from({ length: 30 }, (_, i) => ({ input: { page: i }, mode: "train" as const })));
    const first = (await store.queryRollouts({ order: "desc", limit: 25 }))!;
    const second = (await store.queryRollouts({ order: "desc", limit: 25, cursor: first.nextCursor! })).items;
    const page = await open(`#token=${TOKEN}`);
    await rowCount(page, 25);
    expect(await page.getByRole("button", { name: "Newer" }).isDisabled()).toBe(true);
    await page.getByRole("button", { name: "Older" }).click();
    await page.locator(`${ROWS}[data-rollout-id='${second[0]!.rolloutId}']`).waitFor();
    expect(await rowsOf(page).evaluateAll((rows) => rows.map((r) => r.getAttribute("data-rollout-id")))).toEqual(second.map((r) => r.rolloutId));
    await page.getByRole("button", { name: "Newer" }).click();
    await page.locator(`${ROWS}[data-rollout-id='${first.items[0]!.rolloutId}']`).waitFor();
    expect(await rowsOf(page).count()).toBe(25);
    expect(page.errors).toEqual([]);
    await page.context().close();
  });

  it("pages with the cursor API under a sort: Older and Newer by reward follow the store's pages", async () => {
    // Runs after the paging test above has made more than one page.
    const first = await store.queryRollouts({ sortBy: "finalReward", order: "desc", limit: 25 });
    expect(first.nextCursor).not.toBeNull();
    const second = (await store.queryRollouts({ sortBy: "finalReward", order: "desc", limit: 25, cursor: first.nextCursor! })).items;
    const page = await open(`#token=${TOKEN}`);
    await rowCount(page, 25);
    await page.getByRole("columnheader", { name: "Reward" }).getByRole("button").click();
    await rowIds(page, idsOf(first.items));
    await page.getByRole("button", { name: "Older" }).click();
    await rowIds(page, idsOf(second));
    await page.getByRole("button", { name: "Newer" }).click();
    await rowIds(page, idsOf(first.items));
    expect(page.errors).toEqual([]);
    await page.context().close();
  });
});
