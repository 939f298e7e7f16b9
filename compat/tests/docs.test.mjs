// Every ```ts block of the README and of the guides (docs/, but the generated docs/reference/),
// run as a file of this application (through tsx, as a user would run it), against the mock LLM
// through OPENAI_BASE_URL; each prints exactly what test/docs/code-blocks.test.ts expects of it in
// the repository.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { startMockLlm } from "tracetrain/testing";
import { readExpected } from "../support/docs-expected.mjs";
import { run } from "../support/run.mjs";

const app = fileURLToPath(new URL("../", import.meta.url));
const repo = join(app, "repo");
const guides = readdirSync(join(repo, "docs"), { recursive: true })
  .map((file) => join("docs", file).split("\\").join("/"))
  .filter((file) => file.endsWith(".md") && !file.startsWith("docs/reference/"))
  .sort();
const documents = ["README.md", ...guides]
  .map((file) => ({ file, blocks: [...readFileSync(join(repo, file), "utf8").matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]) }))
  .filter(({ blocks }) => blocks.length > 0);
const expected = readExpected(readFileSync(join(repo, "code-blocks.test.ts"), "utf8"));
const examples = join(app, "doc-examples");
const capture = pathToFileURL(join(app, "support", "capture-console.mjs")).href;
mkdirSync(examples, { recursive: true });

let mock;
before(async () => (mock = await startMockLlm()));
after(() => mock.close());

test("the documents have the blocks test/docs/code-blocks.test.ts knows", () => {
  assert.deepEqual(documents.map(({ file }) => file).sort(), [...expected.keys()].sort());
  for (const { file, blocks } of documents) {
    const rows = expected.get(file);
    assert.equal(blocks.length, rows.length, file);
    for (const [marker] of rows) assert.equal(blocks.filter((b) => b.includes(marker)).length, 1, `${file}: ${marker}`);
  }
});

for (const { file, blocks } of documents) {
  blocks.forEach((code, i) => {
    const marker = (expected.get(file) ?? []).find(([m]) => code.includes(m));
    const name = `${file.replace(/[^a-z0-9]+/gi, "-")}-${i + 1}`;
    test(`${file} block ${i + 1}${marker ? ` (${marker[0]})` : ""}`, { timeout: 120_000 }, async () => {
      assert.ok(marker, "the block has an expectation in test/docs/code-blocks.test.ts");
      const path = join(examples, `${name}.ts`);
      writeFileSync(path, code);
      const cwd = mkdtempSync(join(examples, `run-${name}-`));
      const printedFile = join(cwd, "console.log.jsonl");
      const env = { ...process.env, OPENAI_BASE_URL: mock.baseUrl, OPENAI_API_KEY: "test", CONSOLE_LOG_FILE: printedFile };
      const { stderr } = await run(process.execPath, ["--import", "tsx", "--import", capture, path], { cwd, env });
      const printed = existsSync(printedFile) ? readFileSync(printedFile, "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l)) : [];
      assert.equal(printed.length, 1, `the block should print its result once; it printed ${JSON.stringify(printed)}\n${stderr.slice(-4000)}`);
      assert.match(printed[0], marker[1]);
    });
  });
}
