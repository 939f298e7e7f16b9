/**
 * LLM list prices and the lookup by model name. Data, not policy: the optimizers' budget and the
 * token accounting price calls with the same table, so a figure means the same wherever it shows.
 */

/** USD per million tokens. */
export interface Price {
  input: number;
  output: number;
}

/**
 * List prices in USD per million tokens as OpenAI published them in 2025. Pass `prices` to an
 * algorithm to correct or extend them; a model missing here has no price, and is named as such.
 */
export const DEFAULT_PRICES: Readonly<Record<string, Price>> = Object.freeze({
  "gpt-4.1": { input: 2, output: 8 },
  "gpt-4.1-mini": { input: 0.4, output: 1.6 },
  "gpt-4.1-nano": { input: 0.1, output: 0.4 },
  "gpt-4o": { input: 2.5, output: 10 },
  "gpt-4o-mini": { input: 0.15, output: 0.6 },
  "gpt-5": { input: 1.25, output: 10 },
  "gpt-5-mini": { input: 0.25, output: 2 },
  "gpt-5-nano": { input: 0.05, output: 0.4 },
  o3: { input: 2, output: 8 },
  "o4-mini": { input: 1.1, output: 4.4 },
});

/** A model's price; dated snapshots (`gpt-4.1-mini-2025-04-14`) take their family's. */
export function priceOf(prices: Readonly<Record<string, Price>>, model: string): Price | undefined {
  return prices[model] ?? prices[model.replace(/-\d{4}-\d{2}-\d{2}$/, "")];
}

/** USD for these tokens at `price`. */
export function costOf(price: Price, inputTokens: number, outputTokens: number): number {
  return (inputTokens * price.input + outputTokens * price.output) / 1e6;
}
