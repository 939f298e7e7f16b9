// Every ```ts block of the README, run as a file of this application (through tsx, as a user
// would run it), against the mock LLM through OPENAI_BASE_URL; each prints exactly what
// test/readme.test.ts expects of it in the repository.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { startMockLlm } from "tracetrain/testing";
import { readExpected } from "../support/readme-expected.mjs";
import { run } from "../support/run.mjs";

const app = fileURLToPath(new URL("../", import.meta.url));
const readme = readFileSync(join(app, "repo", "README.md"), "utf8");
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
const expected = readExpected(readFileSync(join(app, "repo", "readme.test.ts"), "utf8"));
const examples = join(app, "readme-examples");
const capture = pathToFileURL(join(app, "support", "capture-console.mjs")).href;
mkdirSync(examples, { recursive: true });

let mock;
before(async () => (mock = await startMockLlm()));
after(() => mock.close());

test("the README has the examples test/readme.test.ts knows", () => {
  assert.equal(blocks.length, expected.length);
  for (const [marker] of expected) assert.equal(blocks.filter((b) => b.includes(marker)).length, 1, marker);
});

blocks.forEach((code, i) => {
  const marker = expected.find(([m]) => code.includes(m));
  test(`README example ${i + 1}${marker ? ` (${marker[0]})` : ""}`, { timeout: 120_000 }, async () => {
    assert.ok(marker, "the example has an expectation in test/readme.test.ts");
    const file = join(examples, `example-${i + 1}.ts`);
    writeFileSync(file, code);
    const cwd = mkdtempSync(join(examples, `run-${i + 1}-`));
    const printedFile = join(cwd, "console.log.jsonl");
    const env = { ...process.env, OPENAI_BASE_URL: mock.baseUrl, OPENAI_API_KEY: "test", CONSOLE_LOG_FILE: printedFile };
    const { stderr } = await run(process.execPath, ["--import", "tsx", "--import", capture, file], { cwd, env });
    const printed = existsSync(printedFile) ? readFileSync(printedFile, "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l)) : [];
    assert.equal(printed.length, 1, `the example should print its result once; it printed ${JSON.stringify(printed)}\n${stderr.slice(-4000)}`);
    assert.match(printed[0], marker[1]);
  });
});
