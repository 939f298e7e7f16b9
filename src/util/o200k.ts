import { get_encoding, type Tiktoken } from "@dqbd/tiktoken";

let shared: Tiktoken | undefined;

/**
 * The o200k_base tokenizer (GPT-4o and later), loaded once per process on first use — from the
 * npm package, never the network; loading takes ~200 ms.
 */
export function o200k(): Tiktoken {
  shared ??= get_encoding("o200k_base");
  return shared;
}
