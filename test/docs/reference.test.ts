/**
 * docs/reference/ is generated (scripts/gen-reference.ts) from the zod schemas, the option types
 * and the CLI's command definitions: the committed files must be what generating them gives now,
 * so an option changed in src/ without `npm run docs:reference` fails here.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/reference/options-reference.js";
import { referenceFiles } from "../../scripts/reference/reference-files.js";
import { COMMAND_NAMES, COMMAND_SPECS } from "../../src/cli/commands.js";
import { usageOf } from "../../src/cli/usage.js";
import { FRAMEWORK_NAMES } from "../../src/cli/init/index.js";

// Generating reads every options type through the TypeScript checker: once for all the tests.
const generated = referenceFiles();

describe("the generated reference", () => {
  it("is up to date with src/ (run npm run docs:reference)", async () => {
    const files = await generated;
    expect(Object.keys(files).sort()).toEqual(["docs/reference/cli.md", "docs/reference/options.md"]);
    for (const [path, text] of Object.entries(files)) {
      expect(readFileSync(join(ROOT, path), "utf8"), `${path} is stale: run npm run docs:reference`).toBe(text);
    }
  });

  it("documents every field of the options objects it lists, with a type and a description", async () => {
    const options = (await generated)["docs/reference/options.md"]!;
    // Spot checks across entries, nested fields and both kinds of declaration.
    expect(options).toMatch(/^\| `rounds` \| `number` \| `3` \| Beam search rounds\. \|$/m);
    expect(options).toMatch(/^\| `evaluation\.strategy` \| `"successive-halving" \\\| "full"` \| `"successive-halving"` \|/m);
    expect(options).toMatch(/^\| `upstreams\[\]\.url` \| `string` \| required \|/m);
    expect(options).toMatch(/^\| `store` \| `string \\\| Store` \| `"sqlite:\.\/\.tracetrain\/tracetrain\.db"` \|/m);
    expect(options).toMatch(/^\| `credit` \| `CreditPolicy` \|/m);
    const rows = options.split("\n").filter((line) => line.startsWith("| `"));
    expect(rows.length).toBeGreaterThan(200);
    for (const row of rows) expect(row, row).toMatch(/^\| `[^`]+` \| `[^`]+` \| [^|].*\| \S.* \|$/);
  });
});

describe("the CLI's help and reference", () => {
  it("offer tracetrain init the frameworks it has templates for", () => {
    expect(COMMAND_SPECS.init.options.framework.check.choices).toEqual(FRAMEWORK_NAMES);
  });

  it("explain every option of every command, from the definitions the parser reads", async () => {
    const cli = (await generated)["docs/reference/cli.md"]!;
    for (const name of COMMAND_NAMES) {
      const help = usageOf(name);
      expect(cli).toContain(`## tracetrain ${name}\n`);
      for (const option of Object.keys(COMMAND_SPECS[name].options)) {
        expect(help, `${name} --help`).toMatch(new RegExp(`^    --${option}\\b`, "m"));
        expect(cli, `cli.md, ${name}`).toContain(`| \`--${option}\` |`);
      }
    }
  });
});
