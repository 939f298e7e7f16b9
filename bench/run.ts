/**
 * Benchmark dispatcher: `npm run bench -- NAME [args]` runs `main(args)` exported by `bench/NAME.ts`.
 *
 * Every top-level `.ts` file here except this one is a benchmark; shared code lives in `bench/lib/`
 * so it is never mistaken for one. Benchmarks print results on stdout (one JSON line each) and
 * progress on stderr; a thrown error fails the run with exit code 1.
 */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

type BenchMain = (args: string[]) => Promise<void> | void;

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

function availableBenchmarks(): string[] {
  return readdirSync(BENCH_DIR, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") && entry.name !== "run.ts")
    .map((entry) => entry.name.slice(0, -".ts".length))
    .sort();
}

function hasMain(loaded: unknown): loaded is { main: BenchMain } {
  return typeof loaded === "object" && loaded !== null && typeof (loaded as { main?: unknown }).main === "function";
}

async function run(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  const available = availableBenchmarks();
  // Checking against the listing also keeps NAME from reaching outside bench/.
  if (name === undefined || !available.includes(name)) {
    if (name !== undefined) process.stderr.write(`unknown benchmark '${name}'\n`);
    process.stderr.write(`usage: npm run bench -- NAME [args]\navailable benchmarks: ${available.join(", ") || "(none)"}\n`);
    return 1;
  }
  const loaded: unknown = await import(pathToFileURL(join(BENCH_DIR, `${name}.ts`)).href);
  if (!hasMain(loaded)) {
    process.stderr.write(`bench/${name}.ts does not export main(args: string[])\n`);
    return 1;
  }
  await loaded.main(args);
  return 0;
}

try {
  process.exitCode = await run(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
}
