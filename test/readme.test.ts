/**
 * Everything the README shows must work as written: each ```ts block runs here, importing
 * "tracetrain" exactly as a user would, in a scratch working directory.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it, vi } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));
const readme = readFileSync(join(root, "README.md"), "utf8");
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
const scratch = join(root, "test", ".tmp");
mkdirSync(scratch, { recursive: true });
const cwd = mkdtempSync(join(tmpdir(), "tracetrain-readme-"));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

describe("README", () => {
  it("has TypeScript examples", () => {
    expect(blocks.length).toBeGreaterThan(0);
  });

  blocks.forEach((code, i) => {
    it(`runs example ${i + 1} as written`, async () => {
      const file = join(scratch, `readme-example-${i + 1}.ts`);
      writeFileSync(file, code);
      const printed: unknown[][] = [];
      const log = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void printed.push(args));
      const previous = process.cwd();
      process.chdir(cwd);
      try {
        await import(/* @vite-ignore */ `${file}?t=${Date.now()}`);
      } finally {
        process.chdir(previous);
        log.mockRestore();
      }
      expect(printed.length, "the example should print its result").toBeGreaterThan(0);
      if (i === 0) expect(printed[0]).toEqual(["succeeded", 1, 1]);
    });
  });
});
