/**
 * `tracetrain export`, spawned from source through tsx like a user runs it, against a SQLite store
 * filled by real rollouts (the real tracer and openai SDK against the test LLM server).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import type { ChatCompletionMessageParam } from "openai/resources/chat/completions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatRecordSchema, SftTokenRecordSchema, type TokenRecord, TokenRecordSchema } from "tracetrain/schemas";
import { SqliteStore } from "tracetrain/store";
import { withAgent } from "tracetrain";
import { startHarness } from "../adapters/harness.js";

const cli = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "tracetrain-export-"));
const db = join(dir, "store.db");
const ids: Record<string, string> = {};
/** The usage the mock reported for the calls of the rollouts that succeeded. */
const usage = { input: 0, output: 0 };

/** Runs `tracetrain ARGS`; resolves with its exit code, stdout and stderr. */
function tracetrain(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", cli, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

const lines = (text: string): unknown[] => text.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as unknown);

beforeAll(async () => {
  const h = await startHarness(new SqliteStore(db));
  const client = new OpenAI({ baseURL: h.mock.baseUrl, apiKey: "test", maxRetries: 0 });
  let pending = { input: 0, output: 0 };
  const ask = async (agentName: string, messages: ChatCompletionMessageParam[]) => {
    const r = await withAgent(agentName, () => client.chat.completions.create({ model: "mock-model", messages, return_token_ids: true } as OpenAI.ChatCompletionCreateParamsNonStreaming));
    pending.input += r.usage!.prompt_tokens;
    pending.output += r.usage!.completion_tokens;
    return r;
  };
  const spent = <T>(run: T): T => {
    usage.input += pending.input;
    usage.output += pending.output;
    pending = { input: 0, output: 0 };
    return run;
  };
  // A writer that revises its answer once (two calls that merge), then a checker.
  const rewards = [1, 0.25, 0.5];
  const solve = async (task: { q: string; fail?: boolean }) => {
    const messages: ChatCompletionMessageParam[] = [{ role: "user", content: task.q }];
    const first = await ask("writer", messages);
    messages.push({ role: "assistant", content: first.choices[0]!.message.content }, { role: "user", content: "Improve it" });
    await ask("writer", messages);
    await ask("checker", [{ role: "user", content: "Check the answer" }]);
    if (task.fail) throw new Error("the agent failed");
    return rewards.shift();
  };
  // Two rollouts of task A (one group: group ids come from the task), one of task B.
  ids.a1 = spent(await h.run("solver", solve, { q: "Task A" })).rollout.rolloutId;
  // A failed attempt of the same task: runner.step rethrows the agent's error; its rollout is failed in the store.
  await expect(h.run("solver", solve, { q: "Task A", fail: true })).rejects.toThrow("the agent failed");
  pending = { input: 0, output: 0 }; // the failed rollout is not exported
  ids.a2 = spent(await h.run("solver", solve, { q: "Task A" })).rollout.rolloutId;
  ids.b = spent(await h.run("solver", solve, { q: "Task B" }, "val")).rollout.rolloutId;
  await h.close();
}, 180_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("tracetrain export", () => {
  it("writes token samples, chat records and the filtered variants", async () => {
    const out = (name: string) => join(dir, name);
    const [tokens, valChat, best, rich, checkers, bad, missing, valHf, sftTokens] = await Promise.all([
      tracetrain(["export", "--store", `sqlite:${db}`, "--format", "tokens", "--out", out("tokens.jsonl")]),
      tracetrain(["export", "--store", `sqlite:${db}`, "--format", "chat", "--mode", "val", "--out", out("val.jsonl")]),
      tracetrain(["export", "--store", `sqlite:${db}`, "--format", "tokens", "--agent", "writer", "--top-k", "1", "--out", out("best.jsonl")]),
      tracetrain(["export", "--store", `sqlite:${db}`, "--format", "tokens", "--min-reward", "0.6", "--credit", "lastCall", "--out", out("rich.jsonl")]),
      tracetrain(["export", "--store", `sqlite:${db}`, "--format", "chat", "--agent", "checker"]),
      tracetrain(["export", "--store", `sqlite:${db}`, "--format", "csv"]),
      tracetrain(["export", "--format", "chat"]),
      tracetrain(["export", "--store", `sqlite:${db}`, "--format", "hf", "--mode", "val"]),
      tracetrain(["export", "--store", `sqlite:${db}`, "--format", "sft-tokens"]),
    ]);

    // Tokens: the failed rollout is not training data; each other gives the writer's merged sample and the checker's.
    expect(tokens.code, tokens.stderr).toBe(0);
    const records = lines(readFileSync(out("tokens.jsonl"), "utf8")) as TokenRecord[];
    for (const record of records) expect(TokenRecordSchema.safeParse(record).success).toBe(true);
    expect(records.map((r) => [r.rollout_id, r.reward, r.response_mask.includes(0)])).toEqual([
      [ids.a1, 1, true],
      [ids.a1, 1, false],
      [ids.a2, 0.25, true],
      [ids.a2, 0.25, false],
      [ids.b, 0.5, true],
      [ids.b, 0.5, false],
    ]);
    expect(records[0]!.group_id).toMatch(/^task-[0-9a-f]{16}$/);
    expect(records[2]!.group_id).toBe(records[0]!.group_id);
    expect(records[4]!.group_id).not.toBe(records[0]!.group_id);
    // sft-tokens: the same merged samples; labels skip the prompt and the tokens inserted between calls (mask 0).
    expect(sftTokens.code, sftTokens.stderr).toBe(0);
    const sft = lines(sftTokens.stdout).map((r) => SftTokenRecordSchema.parse(r));
    expect(sft).toEqual(
      records.map((r) => ({
        input_ids: [...r.prompt_ids, ...r.response_ids],
        labels: [...r.prompt_ids.map(() => -100), ...r.response_ids.map((id, i) => (r.response_mask[i] === 1 ? id : -100))],
        rollout_id: r.rollout_id,
        group_id: r.group_id,
        reward: r.reward,
        policy_version: r.policy_version,
      })),
    );
    expect(sft[0]!.labels.slice(records[0]!.prompt_ids.length)).toContain(-100);
    // Tokens: exactly the usage the mock reported for the three rollouts' calls; rewards 1 + 0.25 + 0.5.
    const total = usage.input + usage.output;
    expect(tokens.stderr).toBe(
      "exported 6 tokens record(s) from 3 rollout(s): 9 LLM calls found, 9 selected, 9 with token ids; merge ratio 1.00 (0 mismatches); " +
        `tokens ${total} (${usage.input} in, ${usage.output} out; usage), cost unknown (no price for mock-model), ${(total / 6).toFixed(1)} per record, ${(total / 1.75).toFixed(1)} per unit reward\n`,
    );

    expect(valChat.code, valChat.stderr).toBe(0);
    const chat = lines(readFileSync(out("val.jsonl"), "utf8"));
    expect(chat).toEqual([
      {
        messages: [
          { role: "user", content: "Task B" },
          { role: "assistant", content: "echo: Task B" },
          { role: "user", content: "Improve it" },
          { role: "assistant", content: "echo: Improve it" },
        ],
      },
      { messages: [{ role: "user", content: "Check the answer" }, { role: "assistant", content: "echo: Check the answer" }] },
    ]);
    for (const record of chat) expect(ChatRecordSchema.safeParse(record).success).toBe(true);
    // Without tools, Hugging Face messages are the same conversation.
    expect(valHf.code, valHf.stderr).toBe(0);
    expect(lines(valHf.stdout)).toEqual(chat);
    expect(valHf.stderr).toMatch(/^exported 2 hf record\(s\) from 1 rollout\(s\)/);

    expect(best.code, best.stderr).toBe(0);
    expect((lines(readFileSync(out("best.jsonl"), "utf8")) as TokenRecord[]).map((r) => r.rollout_id)).toEqual([ids.a1, ids.b]);
    expect(best.stderr).toMatch(/left out: agent not selected 3/);

    // lastCall: only the last call (the checker's) carries the reward, so only its sample passes 0.6.
    expect(rich.code, rich.stderr).toBe(0);
    expect((lines(readFileSync(out("rich.jsonl"), "utf8")) as TokenRecord[]).map((r) => [r.rollout_id, r.reward, r.prompt_ids.length > 0])).toEqual([[ids.a1, 1, true]]);

    expect(checkers.code, checkers.stderr).toBe(0);
    const checked = { messages: [{ role: "user", content: "Check the answer" }, { role: "assistant", content: "echo: Check the answer" }] };
    expect(lines(checkers.stdout)).toEqual([checked, checked, checked]);
    expect(checkers.stderr).toMatch(/^exported 3 chat record\(s\) from 3 rollout\(s\)/);

    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--format: expected chat, hf, tokens or sft-tokens, got csv/);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--store: required/);
  }, 180_000);
});
