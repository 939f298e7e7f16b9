/** Token figures as the pages show them: one line, and a table per model. */
import { h } from "./dom.js";
import type { TokenFiguresData } from "./records.js";

/** `1234 tokens (1000 in, 234 out; usage) · $0.0012`, naming unpriced models and a mixed source's split. */
export function tokensLine(t: TokenFiguresData): string {
  const source = t.source === "mixed" ? `mixed: ${t.callsBySource.usage} call(s) with usage, ${t.callsBySource.counted} counted` : t.source === "counted" ? "counted with o200k" : t.source;
  return `${t.total} tokens (${t.input} in, ${t.output} out; ${source}) · ${costText(t.costUsd, t.unpricedModels)}${t.judge.calls > 0 ? ` · judge calls apart: ${t.judge.total} tokens` : ""}`;
}

export function costText(usd: number | null, unpriced: readonly string[] = []): string {
  return usd === null ? `cost unknown${unpriced.length > 0 ? ` (no price for ${unpriced.join(", ")})` : ""}` : `$${usd.toFixed(usd < 0.01 ? 6 : 4)}`;
}

/** Tokens per unit reward, or why there is none. */
export function perRewardText(value: number | null | undefined): string {
  return value === null || value === undefined ? "—" : value.toFixed(1);
}

/** The figures with a row per model. */
export function tokensView(t: TokenFiguresData): HTMLElement {
  const models = Object.entries(t.byModel);
  return h(
    "div",
    { class: "tokens" },
    h("p", { id: "tokens-summary" }, tokensLine(t)),
    models.length === 0
      ? null
      : h(
          "table",
          { id: "tokens-by-model" },
          h("thead", {}, h("tr", {}, ...["Model", "Calls", "Input", "Output", "Total", "Cost"].map((c) => h("th", { scope: "col" }, c)))),
          h(
            "tbody",
            {},
            ...models.map(([model, m]) =>
              h("tr", { "data-model": model }, h("td", { class: "mono" }, model), h("td", { class: "num" }, m.calls), h("td", { class: "num" }, m.input), h("td", { class: "num" }, m.output), h("td", { class: "num" }, m.total), h("td", { class: "num" }, costText(m.costUsd))),
            ),
          ),
        ),
  );
}
