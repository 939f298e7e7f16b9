import { defineConfig } from "tsup";

export default defineConfig({
  // The worker entry is separate: worker processes run it directly (see src/runner/worker-pool.ts).
  entry: { index: "src/index.ts", "worker-main": "src/runner/worker-main.ts", cli: "src/cli/main.ts" },
  format: ["esm"],
  target: "node20",
  dts: true,
  sourcemap: true,
  clean: true,
  splitting: false,
});
