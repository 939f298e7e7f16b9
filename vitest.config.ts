import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/** The tests that run whole example projects: examples/* and what `tracetrain init` writes. */
export const EXAMPLE_PROJECT_TESTS = ["test/examples/**/*.test.ts", "test/cli/init.test.ts"];

const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests (and README snippets run as tests) import the package by its published names:
    // "tracetrain" is the root entry, "tracetrain/<name>" a subpath entry (src/entries/<name>.ts).
    alias: [
      { find: /^tracetrain$/, replacement: src("index.ts") },
      { find: /^tracetrain\/(.+)$/, replacement: src("entries/$1.ts") },
    ],
  },
  test: {
    include: ["test/**/*.test.ts"],
    // Whole example projects (each a minute of child processes): `npm run test:examples`
    // (vitest.examples.config.ts) runs them, and CI runs them also from the packed tarball.
    exclude: EXAMPLE_PROJECT_TESTS,
    // Hang detectors, not budgets: on a busy 2-core machine a test may take many times its usual time.
    testTimeout: 90_000,
    hookTimeout: 90_000,
    // A poll waits for what it polls for: a busy machine makes it slower, never failed. Its bound
    // only catches a hang, like the test's own timeout.
    expect: { poll: { timeout: 60_000, interval: 20 } },
    pool: "forks",
    // Most test files spend their time waiting on child processes and loopback servers, not on
    // the CPU: vitest's default (cores − 1) would run one file at a time on a 2-core machine.
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});
