/**
 * Everything the README shows must work as written: each ```ts block runs here, importing
 * "tracetrain" exactly as a user would, in a scratch working directory, against the deterministic
 * LLM server (through OPENAI_BASE_URL, as a user would point it at a real endpoint).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type MockLlm, startMockLlm } from "tracetrain/testing";

const root = fileURLToPath(new URL("..", import.meta.url));
const readme = readFileSync(join(root, "README.md"), "utf8");
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
const scratch = join(root, "test", ".tmp");
mkdirSync(scratch, { recursive: true });
const cwd = mkdtempSync(join(tmpdir(), "tracetrain-readme-"));

/** What each example prints (against the echoing test LLM), keyed by a line only that example has. */
const EXPECTED: Array<[marker: string, printed: RegExp]> = [
  // The echoing test LLM repeats the question, so neither answer is right: a real score of 0.
  ['const quiz = agent(', /^mean reward 0 over 2 rollouts$/],
  ['const solver = agent(', /^1 1$/],
  // The echoing test LLM cannot help the optimizer: the honest verdict, and the seed published.
  ["const capitals = agent(", /^no significant improvement capitals-1\.best \d+$/],
  // The reference policy learns to say the colour asked for.
  // The echoing test LLM gives GEPA nothing to learn from: both texts the calls showed are evolved, no child passes the gate, the seed is published.
  ["const adder = agent(", /^no significant improvement system,answer_tool seed$/],
  ["const sayColour = agent(", /^validation reward 0\.\d\d → (0\.9\d|1\.00)$/],
  // The exact call (fetch) and the SDK's structure: AI SDK 7's channel (ai) or AI SDK 6's OpenTelemetry (otel).
  ["const summarizer = agent(", /^1 (?=.*\bfetch\b)(?=.*\b(ai|otel)\b)/],
  ["const writerAgent = agent(", /^researcher,writer$/],
  ["const support = agent(", /^true 1$/],
  // From traces to training data: one example per credit policy.
  ["const pipeline = agent(", /^writer 1 final textOnly=true$/],
  ["const drafter = agent(", /^none 1$/],
  ["const stepwise = agent(", /^1\.4 1$/],
  ["const labeler = agent(", /^1 1$/],
  ['createStore("sqlite:./runs/tracetrain.db")', /^succeeded 1 1$/],
  // Datasets: a CSV converted by a schema, and a broken JSONL line named by file:line:column.
  ['const questions = await loadDataset(', /^2 4 broken\.jsonl:2:36: not JSON: expected a double-quoted property name$/],
  ["startStoreServer({ store: new MemoryStore()", /^succeeded$/],
  // The test LLM returns vLLM token ids, so the gateway records exact tokens.
  ["const gateway = await startGateway({", /^true \d+ exact tokens$/],
];

let llm: MockLlm;
beforeAll(async () => {
  llm = await startMockLlm();
  process.env.OPENAI_BASE_URL = llm.baseUrl;
  process.env.OPENAI_API_KEY = "test";
});
afterAll(async () => {
  await llm.close();
  rmSync(cwd, { recursive: true, force: true });
});

describe("README", () => {
  it("has the TypeScript examples this test knows", () => {
    expect(blocks.length).toBe(EXPECTED.length);
    for (const [marker] of EXPECTED) expect(blocks.filter((b) => b.includes(marker)), marker).toHaveLength(1);
  });

  blocks.forEach((code, i) => {
    it(`runs example ${i + 1} as written`, async () => {
      const file = join(scratch, `readme-example-${i + 1}.ts`);
      writeFileSync(file, code);
      const printed: string[] = [];
      const log = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void printed.push(args.join(" ")));
      const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
      const previous = process.cwd();
      process.chdir(cwd);
      try {
        await import(/* @vite-ignore */ `${file}?t=${Date.now()}`);
      } finally {
        process.chdir(previous);
        log.mockRestore();
        stderr.mockRestore();
      }
      const expected = EXPECTED.find(([marker]) => code.includes(marker));
      expect(printed, "the example should print its result").toHaveLength(1);
      expect(printed[0]).toMatch(expected![1]);
    }, 180_000);
  });
});
