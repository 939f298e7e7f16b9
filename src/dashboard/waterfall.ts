/**
 * The span tree and waterfall in one table: a row per span, indented under its parent, with a
 * bar from its start to its end on the attempt's time axis; above it, the rewards on that axis.
 */
import { type Child, h, s } from "./dom.js";
import { duration, reward } from "./format.js";
import type { Span } from "./records.js";
import { treeOrder } from "./span-tree.js";

const WIDTH = 1000;
const SPAN_TYPE = "tracetrain.span.type";
const REWARD_VALUE = "tracetrain.reward.value";

export function waterfall(spans: readonly Span[]): Child {
  if (spans.length === 0) return h("p", { class: "empty" }, "No spans recorded for this attempt.");
  const start = Math.min(...spans.map((sp) => sp.startTime));
  const end = Math.max(...spans.map((sp) => sp.endTime));
  const x = (t: number) => ((t - start) / Math.max(1, end - start)) * WIDTH;
  const rows = treeOrder(spans).map(({ span, depth }) => {
    const type = typeof span.attributes[SPAN_TYPE] === "string" ? String(span.attributes[SPAN_TYPE]) : "other";
    const name = h("td", { class: "mono", "aria-level": depth + 1 }, span.name);
    name.style.paddingLeft = `${0.5 + depth * 1.2}rem`;
    const left = x(span.startTime);
    const bar = s(
      "svg",
      { viewBox: `0 0 ${WIDTH} 16`, preserveAspectRatio: "none", role: "img", "aria-label": `${span.name}: ${duration(span.endTime - span.startTime)} from ${duration(span.startTime - start)}` },
      s("rect", { class: "span", x: left, y: 3, width: Math.max(2, x(span.endTime) - left), height: 10, rx: 2 }),
    );
    return h(
      "tr",
      { class: `type-${type} status-${span.status.code}`, "data-span-id": span.spanId },
      name,
      h("td", { class: "num" }, duration(span.endTime - span.startTime)),
      h("td", { class: "num" }, rewardOf(span) === undefined ? "" : reward(rewardOf(span))),
      h("td", { class: "bar" }, bar),
    );
  });
  return h(
    "div",
    {},
    rewardStrip(spans, x, start),
    h(
      "table",
      { class: "waterfall", id: "waterfall" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Span"), h("th", { scope: "col" }, "Duration"), h("th", { scope: "col" }, "Reward"), h("th", { scope: "col" }, `Timeline (${duration(end - start)})`))),
      h("tbody", {}, ...rows),
    ),
  );
}

function rewardOf(span: Span): number | undefined {
  const value = span.attributes[REWARD_VALUE];
  return typeof value === "number" ? value : undefined;
}

/** Each reward as a diamond at the moment it was given, labelled with its value. */
function rewardStrip(spans: readonly Span[], x: (t: number) => number, start: number): Child {
  const rewards = spans.filter((sp) => rewardOf(sp) !== undefined);
  if (rewards.length === 0) return h("p", { class: "empty" }, "No reward recorded in this attempt.");
  const marks = rewards.map((sp) => {
    const at = Math.min(WIDTH - 4, Math.max(4, x(sp.endTime)));
    return s(
      "g",
      { class: "reward", "data-span-id": sp.spanId },
      s("title", {}, `reward ${reward(rewardOf(sp))} at ${duration(sp.endTime - start)}`),
      s("path", { class: "reward-mark", d: `M${at} 4 l5 6 l-5 6 l-5 -6 z` }),
      // Near the right edge the label goes to the left of its mark, so the mark never hides it.
      s("text", at > WIDTH - 60 ? { x: at - 8, y: 14, "text-anchor": "end" } : { x: at + 8, y: 14 }, reward(rewardOf(sp))),
    );
  });
  return h(
    "figure",
    { class: "rewards", "aria-label": "Rewards on the timeline" },
    s("svg", { viewBox: `0 0 ${WIDTH} 28`, preserveAspectRatio: "none" }, s("line", { x1: 0, y1: 10, x2: WIDTH, y2: 10 }), ...marks),
  );
}
