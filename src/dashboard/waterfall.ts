/**
 * The span tree and waterfall in one grid: a row per span, indented under its parent, with a bar
 * from its start to its end on the attempt's time axis; above it, the rewards on that axis.
 *
 * Only the rows in view are in the DOM (fixed row height, a scroll container), so a 10k-span
 * attempt draws as fast as a small one. The grid is one tab stop: arrow keys, Page Up/Down,
 * Home and End move the active row (announced through aria-activedescendant), Enter opens it.
 */
import { type Child, h, s } from "./dom.js";
import { duration, reward } from "./format.js";
import type { SpanOutline } from "./records.js";
import { type TreeRow, treeOrder } from "./span-tree.js";

const WIDTH = 1000;
/** Pixels per row: fixed, so a row's place is its index times this. */
export const ROW_HEIGHT = 26;
/** The tallest the scroll area grows before it scrolls. */
const MAX_VIEW = 520;
/** Rows drawn above and below the visible ones, so a short scroll shows no gap. */
const OVERSCAN = 12;

export interface WaterfallOptions {
  /** Spans of these agents are marked. */
  selectedAgents: ReadonlySet<string>;
  /** The user opened a row (click, or Enter on the active row). */
  onOpen: (span: SpanOutline) => void;
}

export function waterfall(spans: readonly SpanOutline[], options: WaterfallOptions): Child {
  if (spans.length === 0) return h("p", { class: "empty" }, "No spans recorded for this attempt.");
  let start = Infinity;
  let end = -Infinity;
  for (const sp of spans) {
    start = Math.min(start, sp.startTime);
    end = Math.max(end, sp.endTime);
  }
  const span = Math.max(1, end - start);
  const rows = treeOrder(spans);
  const grid = new Grid(rows, start, span, options);
  return h("div", {}, rewardStrip(spans, (t) => ((t - start) / span) * WIDTH, start), grid.element);
}

class Grid {
  readonly element: HTMLElement;
  private readonly body: HTMLElement;
  private readonly scroller: HTMLElement;
  private active = 0;
  private drawn = "";
  private queued = false;

  constructor(
    private readonly rows: ReadonlyArray<TreeRow<SpanOutline>>,
    private readonly start: number,
    private readonly span: number,
    private readonly options: WaterfallOptions,
  ) {
    this.body = h("div", { class: "wf-body", role: "rowgroup" });
    this.body.style.height = `${rows.length * ROW_HEIGHT}px`;
    this.scroller = h("div", { class: "wf-scroll" }, this.body);
    this.scroller.style.height = `${Math.min(MAX_VIEW, rows.length * ROW_HEIGHT)}px`;
    const header = h(
      "div",
      { class: "wf-row wf-head", role: "row", "aria-rowindex": 1 },
      h("span", { role: "columnheader", class: "wf-name" }, "Span"),
      h("span", { role: "columnheader", class: "num" }, "Duration"),
      h("span", { role: "columnheader", class: "num" }, "Reward"),
      h("span", { role: "columnheader", class: "wf-bar" }, `Timeline (${duration(span)})`),
    );
    this.element = h(
      "div",
      { id: "waterfall", class: "waterfall", role: "treegrid", tabindex: 0, "aria-label": `Spans (${rows.length})`, "aria-rowcount": rows.length + 1, onkeydown: (e) => this.key(e as KeyboardEvent) },
      header,
      this.scroller,
    );
    this.scroller.addEventListener("scroll", () => this.schedule(), { passive: true });
    this.body.addEventListener("click", (e) => {
      const row = (e.target as Element).closest<HTMLElement>("[data-index]");
      if (row) this.open(Number(row.dataset.index));
    });
    this.draw();
  }

  /** Draws the rows in view (plus a margin), and nothing else. */
  private draw(): void {
    const top = this.scroller.scrollTop;
    const height = this.scroller.clientHeight || MAX_VIEW;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.rows.length, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
    const key = `${first}:${last}:${this.active}`;
    if (key === this.drawn) return;
    this.drawn = key;
    const rows: HTMLElement[] = [];
    for (let i = first; i < last; i++) rows.push(this.row(i));
    this.body.replaceChildren(...rows);
    this.element.setAttribute("aria-activedescendant", `wf-row-${this.active}`);
  }

  private schedule(): void {
    if (this.queued) return;
    this.queued = true;
    requestAnimationFrame(() => {
      this.queued = false;
      this.draw();
    });
  }

  private row(i: number): HTMLElement {
    const { span, depth } = this.rows[i]!;
    const selected = span.agent !== null && this.options.selectedAgents.has(span.agent);
    const x = (t: number) => ((t - this.start) / this.span) * 100;
    const bar = h("span", { class: "wf-span" });
    bar.style.left = `${x(span.startTime)}%`;
    bar.style.width = `max(2px, ${x(span.endTime) - x(span.startTime)}%)`;
    const name = h("span", { role: "gridcell", class: "wf-name mono", title: span.name }, span.name);
    name.style.paddingLeft = `${0.5 + depth * 1.2}rem`;
    const row = h(
      "div",
      {
        id: `wf-row-${i}`,
        role: "row",
        class: `wf-row type-${span.type ?? "other"} status-${span.status}${selected ? " agent-selected" : ""}${i === this.active ? " active" : ""}`,
        "aria-rowindex": i + 2,
        "aria-level": depth + 1,
        "aria-selected": i === this.active ? "true" : "false",
        "data-index": i,
        "data-span-id": span.spanId,
        "data-agent": span.agent ?? undefined,
      },
      name,
      h("span", { role: "gridcell", class: "num" }, duration(span.endTime - span.startTime)),
      h("span", { role: "gridcell", class: "num" }, span.reward === null ? "" : reward(span.reward)),
      h("span", { role: "gridcell", class: "wf-bar", "aria-label": `${duration(span.endTime - span.startTime)} from ${duration(span.startTime - this.start)}` }, bar),
    );
    row.style.top = `${i * ROW_HEIGHT}px`;
    return row;
  }

  private key(event: KeyboardEvent): void {
    const page = Math.max(1, Math.floor(this.scroller.clientHeight / ROW_HEIGHT) - 1);
    const moves: Record<string, number> = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page, Home: -Infinity, End: Infinity };
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      this.open(this.active);
      return;
    }
    const move = moves[event.key];
    if (move === undefined) return;
    event.preventDefault();
    this.focusRow(Math.min(this.rows.length - 1, Math.max(0, this.active + move)));
  }

  /** Makes row `i` the active one and scrolls it into view. */
  private focusRow(i: number): void {
    this.active = i;
    const top = i * ROW_HEIGHT;
    if (top < this.scroller.scrollTop) this.scroller.scrollTop = top;
    else if (top + ROW_HEIGHT > this.scroller.scrollTop + this.scroller.clientHeight) this.scroller.scrollTop = top + ROW_HEIGHT - this.scroller.clientHeight;
    this.draw();
  }

  private open(i: number): void {
    this.focusRow(i);
    const row = this.rows[i];
    if (row) this.options.onOpen(row.span);
  }
}

/** Each reward as a diamond at the moment it was given, labelled with its value. */
function rewardStrip(spans: readonly SpanOutline[], x: (t: number) => number, start: number): Child {
  const rewards = spans.filter((sp) => sp.reward !== null);
  if (rewards.length === 0) return h("p", { class: "empty" }, "No reward recorded in this attempt.");
  const marks = rewards.map((sp) => {
    const at = Math.min(WIDTH - 4, Math.max(4, x(sp.endTime)));
    return s(
      "g",
      { class: "reward", "data-span-id": sp.spanId },
      s("title", {}, `reward ${reward(sp.reward)} at ${duration(sp.endTime - start)}`),
      s("path", { class: "reward-mark", d: `M${at} 4 l5 6 l-5 6 l-5 -6 z` }),
      // Near the right edge the label goes to the left of its mark, so the mark never hides it.
      s("text", at > WIDTH - 60 ? { x: at - 8, y: 14, "text-anchor": "end" } : { x: at + 8, y: 14 }, reward(sp.reward)),
    );
  });
  return h(
    "figure",
    { class: "rewards", "aria-label": "Rewards on the timeline" },
    s("svg", { viewBox: `0 0 ${WIDTH} 28`, preserveAspectRatio: "none" }, s("line", { x1: 0, y1: 10, x2: WIDTH, y2: 10 }), ...marks),
  );
}
