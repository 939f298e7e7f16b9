import type * as Tiktoken from "@dqbd/tiktoken";
import { requirePackage } from "./optional-package.js";

let shared: Tiktoken.Tiktoken | undefined;

/**
 * The o200k_base tokenizer (GPT-4o and later), loaded once per process on first use — from the
 * `@dqbd/tiktoken` package, never the network; loading takes ~200 ms. Importing tracetrain does
 * not load the package; a missing one throws MissingDependencyError here.
 */
export function o200k(): Tiktoken.Tiktoken {
  shared ??= requirePackage<typeof Tiktoken>("@dqbd/tiktoken", "the o200k tokenizer").get_encoding("o200k_base");
  return shared;
}
