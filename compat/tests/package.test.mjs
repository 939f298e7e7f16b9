// The installed package itself: what importing the root loads, every entry from ESM and CommonJS,
// what the tarball ships, and the `tracetrain` command.
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { run } from "../support/run.mjs";

const app = fileURLToPath(new URL("../", import.meta.url));
const require = createRequire(import.meta.url);
const manifest = require("tracetrain/package.json");
const packageDir = dirname(require.resolve("tracetrain/package.json"));
const subpaths = Object.keys(manifest.exports).filter((p) => p !== "./package.json").map((p) => (p === "." ? "tracetrain" : `tracetrain/${p.slice(2)}`));
const stdoutOf = async (command, args) => (await run(command, args, { cwd: app })).stdout;

test("importing the root loads no native module, no database driver and no tokenizer", async () => {
  const { packages } = JSON.parse(await stdoutOf(process.execPath, [join(app, "support", "loaded-packages.mjs"), "tracetrain"]));
  assert.ok(packages.includes("zod"), `the probe sees what is loaded (${packages.join(", ")})`);
  const heavy = packages.filter((name) => ["better-sqlite3", "pg", "@dqbd/tiktoken"].includes(name) || name.startsWith("pg-"));
  assert.deepEqual(heavy, [], `importing "tracetrain" loaded ${heavy.join(", ")}`);
});

test("every entry imports from ESM", async () => {
  const failed = [];
  for (const specifier of subpaths) await import(specifier).catch((error) => failed.push(`${specifier}: ${error.message}`));
  assert.deepEqual(failed, []);
});

test("every entry loads with require() (CommonJS)", async () => {
  const script = `${subpaths.map((s) => `require(${JSON.stringify(s)});`).join("")} console.log("ok")`;
  assert.equal((await stdoutOf(process.execPath, ["-e", script])).trim(), "ok");
});

test("the tarball ships the build, the licence and the docs, and nothing else", () => {
  const files = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      // npm may nest a dependency's own dependencies there; they are not part of the tarball.
      if (entry.isDirectory() && !(dir === packageDir && entry.name === "node_modules")) walk(path);
      else if (entry.isDirectory()) continue;
      else files.push(relative(packageDir, path));
    }
  };
  walk(packageDir);
  const top = [...new Set(files.map((f) => f.split("/")[0]))].sort();
  assert.deepEqual(top, ["CHANGELOG.md", "LICENSE", "README.md", "dist", "docs", "package.json", "python"], `the package holds ${top.join(", ")}`);
  // python/ is the launcher Agent Lightning's local controller imports (tracetrain harness).
  assert.deepEqual(files.filter((f) => f.startsWith("python/")), ["python/tracetrain_harness.py"]);
  assert.deepEqual(files.filter((f) => f.endsWith(".map")), [], "no source maps");
  for (const target of Object.values(manifest.exports).flatMap((c) => (typeof c === "string" ? [c] : Object.values(c)))) {
    assert.ok(existsSync(join(packageDir, target)), `exports target ${target} is shipped`);
  }
  assert.ok(readFileSync(join(packageDir, "LICENSE"), "utf8").includes("MIT License"));
});

test("npx tracetrain --version and --help", async () => {
  assert.equal((await stdoutOf("npx", ["--no-install", "tracetrain", "--version"])).trim(), manifest.version);
  assert.match(await stdoutOf("npx", ["--no-install", "tracetrain", "--help"]), /tracetrain store serve/);
  assert.match(await stdoutOf("npx", ["--no-install", "tracetrain", "export", "--help"]), /^usage:\n {2}tracetrain export /);
});
