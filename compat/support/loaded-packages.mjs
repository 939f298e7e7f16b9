// Usage: node loaded-packages.mjs SPECIFIER
// Imports SPECIFIER (a package name resolved from here, or a file path) and prints, as JSON, the
// third-party packages that importing it loaded: those the ES module loader resolved, and those
// in the CommonJS cache (packages a CommonJS package required). Nothing is measured by time.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire, register } from "node:module";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { pathToFileURL } from "node:url";

const target = process.argv[2];
if (!target) throw new Error("usage: node loaded-packages.mjs SPECIFIER");

const dir = mkdtempSync(join(tmpdir(), "tracetrain-loaded-"));
const log = join(dir, "resolved.log");
register(new URL("./resolve-log-hooks.mjs", import.meta.url), { data: { log } });
await import(isAbsolute(target) ? pathToFileURL(target).href : target);

const resolved = readFileSync(log, "utf8").split("\n").filter((line) => line !== "");
const cached = Object.keys(createRequire(import.meta.url).cache).map((path) => pathToFileURL(path).href);
rmSync(dir, { recursive: true, force: true });

/** The package a URL lies in: the last node_modules/<name> (or <@scope/name>) in its path. */
function packageOf(url) {
  const match = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*\/node_modules\/)/.exec(url);
  return match?.[1];
}
const packages = [...new Set([...resolved, ...cached].map(packageOf).filter((name) => name !== undefined))].sort();
process.stdout.write(`${JSON.stringify({ packages, resolved: resolved.length })}\n`);
