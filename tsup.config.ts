import { readdirSync } from "node:fs";
import { defineConfig, type Options } from "tsup";

/**
 * One output file per public entry — `dist/index.js` for the root, `dist/<name>.js` for each
 * `src/entries/<name>.ts` (package.json `exports` maps `tracetrain/<name>` to it) — sharing chunks,
 * so a class such as `NotFoundError` exists once and `instanceof` holds across entries.
 */
export const publicEntries: Record<string, string> = {
  index: "src/index.ts",
  ...Object.fromEntries(
    readdirSync(new URL("./src/entries/", import.meta.url))
      .filter((file) => file.endsWith(".ts"))
      .map((file) => [file.slice(0, -".ts".length), `src/entries/${file}`]),
  ),
};

/**
 * The build, also used (without declarations, into a scratch folder) by test/packaging/. The
 * worker entry must sit next to the chunks: `src/runner/worker-pool.ts` finds it as
 * `new URL("./worker-main.js", import.meta.url)`.
 */
export const buildOptions = {
  entry: { ...publicEntries, cli: "src/cli/main.ts", "worker-main": "src/runner/worker-main.ts" },
  format: ["esm"],
  target: "node20",
  platform: "node",
  splitting: true,
  // Every package stays external: the application's copy of openai, @opentelemetry/api, … is the
  // one the tracer patches, and dist/ holds only tracetrain's own code.
  skipNodeModulesBundle: true,
  // tsup would otherwise rewrite "node:sqlite" to "sqlite", which has no unprefixed form.
  removeNodeProtocol: false,
  // Bundling renames clashing identifiers (NotFoundError → _NotFoundError); keep the real names.
  keepNames: true,
  // No source maps: the output is not minified, names are kept, and stack traces already point at
  // readable code; maps without sources would point at files the package does not ship, and maps
  // with sources would triple the package (5 of 7.3 MB before).
  sourcemap: false,
  clean: true,
} satisfies Options;

export default defineConfig({ ...buildOptions, dts: { entry: publicEntries } });
