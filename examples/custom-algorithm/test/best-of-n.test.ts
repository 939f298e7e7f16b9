/** Best-of-N on the simulated model: what it publishes, and that it keeps only the best. */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Trainer } from "tracetrain";
import type { MockLlm } from "tracetrain/testing";
import { adder } from "../agent.js";
import { bestOfN, type BestOfNResult } from "../best-of-n.js";
import { startSumModel } from "../mock-model.js";
import { score, TASKS } from "../tasks.js";

interface ChatLine {
  messages: { role: string; content: string }[];
}

function trainerFor(mock: MockLlm, out: string, threshold: number) {
  return new Trainer({
    store: "memory",
    runners: 4,
    progress: false,
    algorithm: bestOfN({ n: 4, threshold, out, runId: `test-${threshold}` }),
    initialResources: {
      system: { kind: "prompt_template", template: "Add the two numbers." },
      main: { kind: "llm", baseUrl: mock.baseUrl, model: "mock" },
    },
  });
}

async function runBestOfN(mock: MockLlm, out: string, threshold: number) {
  const trainer = trainerFor(mock, out, threshold);
  try {
    const fit = await trainer.fit(adder, { train: TASKS });
    const result: BestOfNResult = fit.result;
    const lines = (await readFile(out, "utf8")).trim().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as ChatLine);
    const run = await (await trainer.store()).getRun(result.runId);
    const entries = await (await trainer.store()).queryRunEntries({ runId: result.runId });
    return { result, lines, run, entries: entries.items };
  } finally {
    await trainer.close();
  }
}

describe("best-of-N on the simulated model", () => {
  let dir: string;
  let mock: MockLlm;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "best-of-n-"));
    mock = await startSumModel(0);
  });
  after(async () => {
    await mock.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("publishes one record per kept task, each ending with the answer that scored", async () => {
    const { result, lines, run, entries } = await runBestOfN(mock, join(dir, "sft.jsonl"), 1);
    assert.equal(result.tasks, TASKS.length);
    assert.equal(result.rollouts, TASKS.length * 4);
    assert.ok(result.kept > 0 && result.kept < TASKS.length, `some tasks kept, some not: ${result.kept}`);
    assert.equal(lines.length, result.kept);
    const questions = new Set<string>();
    for (const { messages } of lines) {
      const question = messages.find((m) => m.role === "user")!.content;
      const task = TASKS.find((t) => t.question === question)!;
      const last = messages.at(-1)!;
      assert.equal(last.role, "assistant");
      assert.equal(score(last.content, task), 1, `${question} → ${last.content}`);
      questions.add(question);
    }
    assert.equal(questions.size, lines.length, "one record per task");
    assert.ok(result.meanAll !== null && result.meanKept !== null && result.meanKept >= result.meanAll);
    // The run is in the store, as the dashboard's Runs page reads it.
    assert.equal(run.algorithm, "best-of-n");
    assert.equal(run.status, "completed");
    assert.equal(entries.length, TASKS.length);
    assert.equal(entries.filter((e) => e.data.kept === true).length, result.kept);
  });

  it("keeps the best answer of each task even below a perfect score, when the threshold allows", async () => {
    const { result, lines } = await runBestOfN(mock, join(dir, "all.jsonl"), 0);
    assert.equal(result.kept, TASKS.length);
    assert.equal(lines.length, TASKS.length);
    assert.ok(result.meanKept! >= result.meanAll!);
  });

  it("records the run as failed, and fails, when the dataset cannot be written", async () => {
    const blocker = join(dir, "not-a-folder");
    await writeFile(blocker, "");
    const trainer = trainerFor(mock, join(blocker, "sft.jsonl"), 1);
    try {
      // mkdir answers EEXIST (a file is in the way) on Linux; ENOTDIR elsewhere.
      await assert.rejects(trainer.fit(adder, { train: TASKS }), (error: NodeJS.ErrnoException) => ["EEXIST", "ENOTDIR"].includes(error.code ?? ""));
      const run = await (await trainer.store()).getRun("test-1");
      assert.equal(run.status, "failed");
      assert.match(String(run.summary?.error), /not-a-folder/);
    } finally {
      await trainer.close();
    }
  });
});
