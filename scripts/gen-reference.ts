/**
 * Writes the generated reference: docs/reference/options.md (every public options object, from
 * the zod schemas and option types in src/) and docs/reference/cli.md (every command and flag,
 * from the CLI's own definitions). test/docs/reference.test.ts fails when the committed files
 * differ from what this writes.
 *
 *   npm run docs:reference
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ROOT } from "./reference/options-reference.js";
import { referenceFiles } from "./reference/reference-files.js";

for (const [path, text] of Object.entries(await referenceFiles())) {
  const file = resolve(ROOT, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  process.stdout.write(`wrote ${path}\n`);
}
