// Builds the dashboard: tsc compiles src/dashboard/*.ts (browser code, its own tsconfig) to ES
// modules the browser loads as they are, and the page and stylesheet are copied beside them.
// `node scripts/build-dashboard.mjs [outDir]` (default dist/dashboard); tests import buildDashboard.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const source = join(root, "src", "dashboard");
const ASSETS = ["index.html", "style.css"];

/** Builds into `outDir` (emptied first) and returns the size of each file, in bytes: as built, and gzipped as the server sends it. */
export function buildDashboard(outDir = join(root, "dist", "dashboard")) {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-p", join(source, "tsconfig.json"), "--outDir", resolve(outDir)], { stdio: "inherit" });
  for (const asset of ASSETS) copyFileSync(join(source, asset), join(outDir, asset));
  return Object.fromEntries(
    readdirSync(outDir).map((name) => [name, { bytes: statSync(join(outDir, name)).size, gzipped: gzipSync(readFileSync(join(outDir, name)), { level: 9 }).length }]),
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const sizes = buildDashboard(process.argv[2]);
  const total = (key) => (Object.values(sizes).reduce((sum, size) => sum + size[key], 0) / 1024).toFixed(1);
  console.log(`dashboard: ${Object.keys(sizes).length} files, ${total("bytes")} KiB (${total("gzipped")} KiB gzipped, as served)`);
}
