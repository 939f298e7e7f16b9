/**
 * What the dashboard tests share: the dashboard built by the real build step into a scratch
 * folder, and a SQLite store filled by real runs — APO on the room-selector example (openai SDK,
 * tool calls) and a two-agent team (planner, writer; the writer's calls with exact token ids and
 * logprobs) traced by the Trainer, both against the
 * mock LLM over loopback HTTP.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import { type Browser, type Page, chromium } from "playwright-core";
import { type Store, Trainer, agent, emitReward, withAgent } from "tracetrain";
import { type StoreServer, startStoreServer } from "tracetrain/server";
import { SqliteStore } from "tracetrain/store";
import { type Responder, startMockLlm } from "tracetrain/testing";
import { runApo, train, val } from "../support/room-apo.js";

const buildScript = fileURLToPath(new URL("../../scripts/build-dashboard.mjs", import.meta.url));

/** Runs the build step of `npm run build` for the dashboard into `dir`; returns what it printed. */
export function buildDashboardInto(dir: string): string {
  return execFileSync(process.execPath, [buildScript, dir], { encoding: "utf8" });
}

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

const teamResponder: Responder = ({ body }) => {
  const system = String((body.messages as Array<{ content?: unknown }>)[0]?.content ?? "");
  return { text: system.startsWith("You are the planner") ? "1. Draft. 2. Review." : "A short paragraph that follows the plan." };
};

/** A two-agent system: the planner's answer is the writer's input. */
const team = agent(
  async (task: { goal: string }, ctx) => {
    const llm = ctx.llm();
    const client = new OpenAI({ baseURL: llm.baseUrl, apiKey: "test", maxRetries: 0 });
    // vLLM's extensions: the server returns exact token ids and logprobs when asked (the writer asks; the planner does not).
    const ask = async (system: string, user: string, tokens: boolean) => {
      const params = { model: llm.model, messages: [{ role: "system" as const, content: system }, { role: "user" as const, content: user }], ...(tokens ? { return_token_ids: true, logprobs: true } : {}) };
      return (await client.chat.completions.create(params)).choices[0]!.message.content ?? "";
    };
    const plan = await withAgent("planner", () => ask("You are the planner. Break the goal into numbered steps.", task.goal, false));
    const text = await withAgent("writer", () => ask("You are the writer. Turn the plan into one short paragraph.", plan, true));
    emitReward(text.length > 20 ? 1 : 0);
  },
  { name: "team" },
);

/** A SQLite store at `path` holding an APO run on the room task (train and val rollouts) and a test run of the two-agent team. */
export async function filledStore(path: string): Promise<Store> {
  const store = new SqliteStore(path, { watchdogIntervalMs: false });
  await runApo(
    { rounds: 1, beamWidth: 1, branchFactor: 1, gradientBatchSize: 2, evaluation: { maxTasks: 3 }, seed: 3 },
    { store, train: train.slice(0, 3), val: val.slice(0, 3), trainer: { progress: false } },
  );
  const llm = await startMockLlm({ responder: teamResponder });
  const trainer = new Trainer({
    store,
    runners: 2,
    progress: false,
    handleSignals: false,
    logger: quiet,
    initialResources: { main: { kind: "llm", baseUrl: llm.baseUrl, model: "team-model" } },
  });
  try {
    await trainer.evaluate(team, [{ goal: "Plan a picnic" }, { goal: "Write a haiku" }]);
  } finally {
    await trainer.close();
    await llm.close();
  }
  return store;
}

export const scratch = (dir: string, name: string) => join(dir, name);

/** Debian's Chromium, which the browser tests drive (never a downloaded one). */
export const CHROMIUM = "/usr/bin/chromium";

/** Chromium headless, without the sandbox (containers) and without reaching the network on its own. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** A tab of its own (its own sessionStorage) at 1280×800 in UTC, collecting uncaught page errors for the test to check. */
export async function openTab(browser: Browser, url: string, colorScheme: "light" | "dark" = "light"): Promise<Page & { errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme, timezoneId: "UTC" });
  const page = (await context.newPage()) as Page & { errors: string[] };
  page.errors = [];
  page.on("pageerror", (error) => page.errors.push(error.message));
  await page.goto(url);
  return page;
}

/** A filled store served with a fresh dashboard build behind `token`, and a Chromium to look at it. */
export interface DashboardRig {
  store: Store;
  server: StoreServer;
  browser: Browser;
  /** Closes the browser, the server and the store. */
  close(): Promise<void>;
}

/** Builds the dashboard into `dir`, fills a store there (by default {@link filledStore}), serves both and launches Chromium. */
export async function startDashboardRig(dir: string, token: string, makeStore: (dir: string) => Promise<Store> = (at) => filledStore(join(at, "store.db"))): Promise<DashboardRig> {
  const build = join(dir, "build");
  buildDashboardInto(build);
  const store = await makeStore(dir);
  const server = await startStoreServer({ store, port: 0, token, logger: quiet, dashboard: { dir: build } });
  const browser = await launchChromium();
  return {
    store,
    server,
    browser,
    async close() {
      await browser.close();
      await server.close();
      await store.close();
    },
  };
}
