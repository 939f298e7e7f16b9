/**
 * `tracetrain demo` (what `npm run demo` runs) as a user runs it, and `tracetrain backend serve
 * --reference` driven over the protocol.
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { HttpTrainingBackend } from "tracetrain/rl";
import { freePort, startTracetrain } from "../support/processes.js";

const dir = mkdtempSync(join(tmpdir(), "tracetrain-demo-"));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("tracetrain demo", () => {
  it("trains the reference policy to a validation reward of at least 0.9 and writes the chart and result", async () => {
    const run = startTracetrain(["demo", "--steps", "15", "--dir", dir], { CI: "1" }, children);
    expect(await run.exited).toBe(0);
    const result = JSON.parse(readFileSync(join(dir, "result.json"), "utf8")) as { final_val_reward: number; initial_val_reward: number; steps: number; seconds: number };
    expect(result.steps).toBe(15);
    expect(result.initial_val_reward).toBeLessThan(0.3);
    expect(result.final_val_reward).toBeGreaterThanOrEqual(0.9);
    expect(result.seconds).toBeLessThan(180);
    const svg = readFileSync(join(dir, "reward-curve.svg"), "utf8");
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg.match(/<path d="M/g)).toHaveLength(2); // the train and validation curves
    // The chart states the result, marks the untrained policy's score and has round step ticks.
    expect(svg).toContain(`>Validation reward ${result.initial_val_reward.toFixed(2)} → ${result.final_val_reward.toFixed(2)} in 15 steps</text>`);
    expect(svg).toContain(`>before training (${result.initial_val_reward.toFixed(2)})</text>`);
    // The table shows how much of each rollout merged into one sample, and the groups without signal.
    expect(run.out.text).toMatch(/^step {2}train {2}val {4}samples {2}merged {2}no-signal/m);
    expect([...svg.matchAll(/<text class="x-tick"[^>]*>(\d+)<\/text>/g)].map((m) => Number(m[1]))).toEqual([0, 5, 10, 15]);
    // Not a terminal: one progress line per step (and the run's first), not one per tenth of each
    // step's rollouts; a phase may add a line for each 5 s it runs, and one at its end then.
    const progress = run.out.text.split("\n").filter((line) => line.startsWith("[tracetrain]"));
    expect(progress.filter((line) => / step \d+\/15 · train reward /.test(line))).toHaveLength(15);
    expect(progress.length).toBeLessThanOrEqual(1 + 15 + 2 * Math.floor(result.seconds / 5));
    expect(run.out.text).toMatch(/^step {2}train {2}val/m);
    expect(run.out.text).toMatch(/^ {3}1 {2}0\.\d{3}/m);
    expect(run.out.text).toMatch(/validation reward 0\.\d{3} → (0\.9\d\d|1\.000) in 15 steps/);
    expect(existsSync(join(dir, "demo.db"))).toBe(true);
    // It ends with the command that shows this run in the dashboard (test/dashboard/cli.test.ts serves such a file).
    expect(run.out.text).toContain(`\ndashboard: npx tracetrain dashboard --store ${join(dir, "demo.db")}\n`);
  }, 120_000);

  it("stops cleanly on Ctrl-C, with the steps done so far in its table, chart and result", async () => {
    const out = join(dir, "interrupted");
    const run = startTracetrain(["demo", "--steps", "500", "--dir", out], { CI: "1" }, children);
    await expect.poll(() => run.out.text, { timeout: 150_000 }).toMatch(/step 3\/500 ·/);
    run.child.kill("SIGINT");
    expect(await run.exited, run.out.text).toBe(0);
    const result = JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as { steps: number; interrupted: boolean };
    expect(result.interrupted).toBe(true);
    expect(result.steps).toBeGreaterThanOrEqual(3);
    expect(result.steps).toBeLessThan(500);
    expect(run.out.text).toMatch(new RegExp(`in ${result.steps} steps \\(interrupted\\)`));
    expect(existsSync(join(out, "reward-curve.svg"))).toBe(true);
  }, 180_000);

  it("explains a bad flag", async () => {
    const run = startTracetrain(["demo", "--steps", "zero"], {}, children);
    expect(await run.exited).not.toBe(0);
    expect(run.out.text).toContain("--steps");
  }, 180_000);
});

describe("tracetrain backend serve --reference", () => {
  it("serves the reference policy over the protocol, behind a token", async () => {
    const port = await freePort();
    const run = startTracetrain(["backend", "serve", "--reference", "--port", String(port)], { TRACETRAIN_TOKEN: "s3cret" }, children);
    await expect.poll(() => run.out.text).toContain("reference backend: protocol at");
    const backend = new HttpTrainingBackend(`http://127.0.0.1:${port}`, { token: "s3cret" });
    const info = await backend.info();
    expect(info).toMatchObject({ protocol: "tracetrain-rl/2", policy_version: 0, capabilities: { token_ids: true, logprobs: true, checkpoint: true } });
    const { endpoints } = await backend.endpoints();
    expect(endpoints[0]!.base_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    await expect(new HttpTrainingBackend(`http://127.0.0.1:${port}`).info()).rejects.toThrow(/401/);
    expect(run.out.text).toContain("(token required)");
  }, 180_000);

  it("refuses to serve anything but the reference backend", async () => {
    const run = startTracetrain(["backend", "serve"], {}, children);
    expect(await run.exited).not.toBe(0);
    expect(run.out.text).toContain("only the reference backend can be served from here");
  }, 180_000);
});
