import { defineConfig } from "vitest/config";
import base, { EXAMPLE_PROJECT_TESTS } from "./vitest.config.js";

/**
 * `npm run test:examples`: the example projects run from the repository (tracetrain resolves to
 * src/, with the repository's Node and framework versions). Replaces the suite's file selection
 * rather than merging with it (vitest's mergeConfig would concatenate the lists).
 */
export default defineConfig({ ...base, test: { ...base.test, include: EXAMPLE_PROJECT_TESTS, exclude: [] } });
