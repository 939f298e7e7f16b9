/**
 * Everything the README and the guides show must work as written: each ```ts block of README.md
 * and docs/**\/*.md (but docs/reference/, generated) runs here, importing "tracetrain" exactly as a
 * user would, in a scratch working directory, against the deterministic LLM server (through
 * OPENAI_BASE_URL, as a user would point it at a real endpoint).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type MockLlm, startMockLlm } from "tracetrain/testing";
import { docFiles } from "./doc-files.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const scratch = join(root, "test", ".tmp");
mkdirSync(scratch, { recursive: true });
const cwd = mkdtempSync(join(tmpdir(), "tracetrain-docs-"));

/**
 * What each block prints (against the echoing test LLM), per file, keyed by a line only that block
 * of its file has. compat/support/readme-expected.mjs reads this table from this file's text: one
 * `"file": [` line per file, one `[marker, /printed/]` row per line.
 */
const EXPECTED: Record<string, Array<[marker: string, printed: RegExp]>> = {
  "README.md": [
    // The echoing test LLM repeats the question, so neither answer is right: a real score of 0.
    ['const quiz = agent(', /^mean reward 0 over 2 rollouts$/],
  ],
  "docs/behaviour-filter.md": [
    // The reference policy guesses among four colours: some answers say yellow, and each is penalized.
    ["const noYellow: Detector = {", /^true true true$/],
  ],
  "docs/behaviour-detectors.md": [
    // The echoing test LLM repeats the prompt, key included: one secrets finding, redacted.
    ["const keeper = agent(", /^secrets aws-access-key high AK…LE \(aws-access-key, 20 chars\) in the output of LLM call #1 \(agent 'keeper'\)$/],
  ],
  "docs/evaluate.md": [
    ['const quiz = agent(', /^mean reward 0 over 2 rollouts$/],
    // Datasets: a CSV converted by a schema, and a broken JSONL line named by file:line:column.
    ['const questions = await loadDataset(', /^2 4 broken\.jsonl:2:36: not JSON: expected a double-quoted property name$/],
  ],
  "docs/gateway.md": [
    // The test LLM returns vLLM token ids, so the gateway records exact tokens.
    ["const gateway = await startGateway({", /^true \d+ exact tokens$/],
  ],
  "docs/multi-agent.md": [
    // GEPA with agents: ["writer"] evolves the writer's prompt only; the echoing LLM gives it nothing to learn from.
    ["const team = agent(", /^evolved writer_system; fixed planner_system; no significant improvement$/],
  ],
  "docs/prompt-optimization.md": [
    // The echoing test LLM cannot help the optimizer: the honest verdict, and the seed published.
    ["const capitals = agent(", /^no significant improvement capitals-1\.best \d+$/],
    // The echoing test LLM gives GEPA nothing to learn from: both texts the calls showed are evolved, no child passes the gate, the seed is published.
    ["const adder = agent(", /^no significant improvement system,answer_tool seed$/],
  ],
  "docs/reinforcement-learning.md": [
    // The reference policy learns to say the colour asked for.
    ["const sayColour = agent(", /^validation reward 0\.\d\d → (0\.9\d|1\.00)$/],
  ],
  "docs/sft.md": [
    // Rejection sampling on the reference policy: it keeps its right answers and learns them.
    ["const sayColour = agent(", /^validation reward 0\.\d\d → (0\.9\d|1\.00): improved$/],
  ],
  "docs/store.md": [
    ['createStore("sqlite:./runs/tracetrain.db")', /^succeeded 1 1$/],
    ["startStoreServer({ store: new MemoryStore()", /^succeeded$/],
  ],
  "docs/token-efficiency.md": [
    // The echoing test LLM reports usage; the wordy system prompt costs more tokens per unit reward at the same score.
    ["const oneWord = agent(", /^usage 2 true true$/],
  ],
  "docs/training-data.md": [
    // From traces to training data: one example per credit policy.
    ["const pipeline = agent(", /^writer 1 final textOnly=true$/],
    ["const drafter = agent(", /^none 1$/],
    ["const stepwise = agent(", /^1\.4 1$/],
    ["const labeler = agent(", /^1 1$/],
  ],
  "docs/wrap-your-agent.md": [
    ['const solver = agent(', /^1 1$/],
    // The exact call (fetch) and the SDK's structure: AI SDK 7's channel (ai) or AI SDK 6's OpenTelemetry (otel).
    ["const summarizer = agent(", /^1 (?=.*\bfetch\b)(?=.*\b(ai|otel)\b)/],
    ["const writerAgent = agent(", /^researcher,writer$/],
    ["const support = agent(", /^true 1$/],
    // A LangChain model built from ctx.llm() and ctx.prompt(): one call, recorded once.
    ["const helper = agent(", /^1 1$/],
  ],
  "docs/write-an-algorithm.md": [
    // The echoing LLM repeats the user message: the terse template's replies stay short, the verbose one's do not.
    ["function pickBestPrompt(", /^best terse; verbose 0 terse 1; 1 call; published Answer in one word$/],
  ],
};

const blocksOf = (file: string) => [...readFileSync(join(root, file), "utf8").matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
const withBlocks = docFiles(root, { reference: false })
  .map((file) => ({ file, blocks: blocksOf(file) }))
  .filter(({ blocks }) => blocks.length > 0);

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

it("knows every document that has TypeScript blocks, and only those", () => {
  expect(withBlocks.map(({ file }) => file).sort()).toEqual(Object.keys(EXPECTED).sort());
});

for (const { file, blocks } of withBlocks) {
  const expected = EXPECTED[file] ?? [];
  describe(file, () => {
    it("has the TypeScript blocks this test knows, each with one marker of its own", () => {
      expect(blocks.length).toBe(expected.length);
      for (const [marker] of expected) expect(blocks.filter((b) => b.includes(marker)), marker).toHaveLength(1);
      for (const code of blocks) expect(expected.filter(([marker]) => code.includes(marker)), code.slice(0, 200)).toHaveLength(1);
    });

    blocks.forEach((code, i) => {
      it(`runs block ${i + 1} as written`, async () => {
        const name = `${relative(".", file).replace(/[^a-z0-9]+/gi, "-")}-${i + 1}.ts`;
        const path = join(scratch, name);
        writeFileSync(path, code);
        const printed: string[] = [];
        const log = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void printed.push(args.join(" ")));
        const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
        const previous = process.cwd();
        process.chdir(cwd);
        try {
          await import(/* @vite-ignore */ `${path}?t=${Date.now()}`);
        } finally {
          process.chdir(previous);
          log.mockRestore();
          stderr.mockRestore();
        }
        const marker = expected.find(([m]) => code.includes(m));
        expect(marker, "the block has a marker in EXPECTED").toBeDefined();
        expect(printed, "the block should print its result").toHaveLength(1);
        expect(printed[0]).toMatch(marker![1]);
      }, 180_000);
    });
  });
}
