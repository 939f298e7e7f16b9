/**
 * An APO or GEPA run: the candidate lineage as a keyboard-navigable tree (a WAI-ARIA tree view:
 * arrows move, Right/Left open and close, Enter selects) with each candidate's latest scores and
 * whether the gate accepted it; the selected candidate's edits side by side with the critique that
 * caused them; the current front (or beam) with its wins; spend against the budget.
 */
import { type DiffRow, lineDiff } from "./diff.js";
import { type Child, h, show } from "./dom.js";
import type { CandidateData, FrontData, RunEntry, ScoreData, SpendData } from "./records.js";
import { type LineageNode, type PromptRun, frontMembers, lineage, promptRun, spendBars, wordDiff } from "./run-model.js";
import { number } from "./ticks.js";
import { costText, perRewardText, tokensLine } from "./tokens.js";

interface State {
  run: PromptRun;
  selected: string | undefined;
  /** Tree items closed by the user, by key (parent>candidate). */
  collapsed: Set<string>;
}

export function promptView(algorithm: string): { element: HTMLElement; update(_run: unknown, entries: readonly RunEntry[]): void } {
  const beam = algorithm === "apo";
  const state: State = { run: promptRun([]), selected: undefined, collapsed: new Set() };
  const tree = h("ul", { role: "tree", id: "lineage", "aria-label": "Candidate lineage", "aria-describedby": "lineage-help" });
  const noCandidate = h("p", { class: "empty", hidden: true }, "No candidate recorded yet.");
  const details = h("section", { id: "candidate", class: "candidate", "aria-labelledby": "candidate-title", "aria-live": "polite" });
  const front = h("section", { id: "front", "aria-labelledby": "front-title" });
  const spend = h("section", { id: "spend", "aria-labelledby": "spend-title" });
  const element = h(
    "div",
    { class: "prompt-run" },
    h(
      "div",
      { class: "lineage-layout" },
      h(
        "section",
        { class: "lineage", "aria-labelledby": "lineage-title" },
        h("h2", { id: "lineage-title" }, "Candidate lineage"),
        h("p", { id: "lineage-help", class: "empty" }, "Children under their parents; a merge is listed under each parent. ↑ ↓ move, → ← open and close, Enter shows a candidate's edits."),
        tree,
        noCandidate,
      ),
      details,
    ),
    front,
    spend,
  );

  let detailsShown: string | undefined;
  const render = () => {
    const focusedKey = tree.contains(document.activeElement) ? (document.activeElement as HTMLElement).dataset.key : undefined;
    const inFront = new Map(frontMembers(state.run.front, beam ? "beam" : "front").map((m) => [m.candidateId, m.badge]));
    let ids = 0;
    const context: TreeContext = { state, inFront, nextId: () => `lineage-node-${ids++}` };
    show(tree, ...lineage(state.run.candidates).map((node) => treeItem(node, undefined, 1, context)));
    // A tree holds only tree items: with none, it is hidden and a note stands in for it.
    tree.hidden = tree.childElementCount === 0;
    noCandidate.hidden = !tree.hidden;
    roveFocus(tree, focusedKey);
    // Redrawn only when what it shows changed: a live update must not reset a diff being read.
    const shown = JSON.stringify([state.selected, state.selected === undefined ? null : [state.run.candidates.get(state.selected), state.run.scores.get(state.selected)]]);
    if (shown !== detailsShown) renderDetails(details, state);
    detailsShown = shown;
    renderFront(front, beam, state.run.front);
    renderSpend(spend, state.run.spend);
  };

  const select = (candidateId: string) => {
    state.selected = candidateId;
    render();
  };
  tree.addEventListener("click", (event) => {
    const item = (event.target as Element).closest<HTMLElement>("[role=treeitem]");
    if (item === null) return;
    if ((event.target as Element).closest(".toggle")) toggle(item, state, render);
    else select(item.dataset.candidateId!);
    (tree.querySelector<HTMLElement>(`[data-key="${CSS.escape(item.dataset.key!)}"]`) ?? item).focus();
  });
  tree.addEventListener("keydown", (event) => onTreeKey(event, tree, state, render, select));

  return {
    element,
    update(_run, entries) {
      state.run = promptRun(entries);
      render();
    },
  };
}

// ---- the tree -------------------------------------------------------------------------------

interface TreeContext {
  state: State;
  /** The badge of each candidate in the front. */
  inFront: Map<string, string>;
  nextId: () => string;
}

function treeItem(node: LineageNode, parent: string | undefined, level: number, context: TreeContext): HTMLElement {
  const { state, inFront } = context;
  const { candidate } = node;
  // The item is named by its own line: some browsers would name it by all its text, children included.
  const labelId = context.nextId();
  const key = `${parent ?? ""}>${candidate.candidateId}`;
  const open = node.children.length > 0 && !state.collapsed.has(key);
  const badge = inFront.get(candidate.candidateId);
  const item = h(
    "li",
    {
      role: "treeitem",
      tabindex: -1,
      "aria-level": level,
      "aria-selected": String(state.selected === candidate.candidateId),
      "aria-expanded": node.children.length > 0 ? String(open) : undefined,
      "aria-labelledby": labelId,
      "data-key": key,
      "data-candidate-id": candidate.candidateId,
      "data-parent": parent,
      "data-origin": candidate.origin,
      class: [badge === undefined ? "" : "in-front", candidate.accepted ? "" : "rejected"].filter(Boolean).join(" ") || undefined,
    },
    h(
      "div",
      { class: "node", id: labelId },
      h("span", { class: "toggle", "aria-hidden": "true" }, node.children.length === 0 ? "·" : open ? "▾" : "▸"),
      h("span", { class: "mono cid" }, candidate.candidateId),
      h("span", { class: `origin origin-${candidate.origin}` }, candidate.origin),
      h("span", { class: "iteration" }, `iteration ${candidate.iteration}`),
      h("span", { class: candidate.accepted ? "verdict accepted" : "verdict rejected" }, candidate.accepted ? "accepted" : "rejected"),
      badge === undefined ? null : h("span", { class: "front-badge" }, badge),
      h("span", { class: "scores" }, scoresText(state.run.scores.get(candidate.candidateId))),
      candidate.parents.length > 1 ? h("span", { class: "note" }, `merge of ${candidate.parents.join(" + ")}`) : null,
      node.shownUnder === undefined ? null : h("span", { class: "note" }, node.shownUnder === "" ? "also listed above, with its children" : `also listed under ${node.shownUnder}, with its children`),
      node.missingParents.length === 0 ? null : h("span", { class: "note" }, `parent ${node.missingParents.join(", ")} not recorded`),
    ),
  );
  if (node.children.length > 0) {
    item.append(h("ul", { role: "group", hidden: !open }, ...node.children.map((child) => treeItem(child, candidate.candidateId, level + 1, context))));
  }
  return item;
}

function scoresText(scores: readonly ScoreData[] | undefined): string {
  if (scores === undefined || scores.length === 0) return "not scored";
  return scores.map((score) => `${score.on} ${scoreText(score)}${score.tokens === undefined ? "" : `, ${score.tokens.total} tokens`}`).join(" · ");
}

/** `0.72 ± 0.08 (n=20)`: the mean, half the 95% interval, and how many tasks. */
function scoreText(score: ScoreData): string {
  if (score.mean === null) return `— (n=${score.n})`;
  const ci = score.ci95 === null ? "" : ` ± ${number((score.ci95[1] - score.ci95[0]) / 2)}`;
  return `${number(score.mean)}${ci} (n=${score.n})`;
}

/** The tree items a user can reach now: those not inside a closed group, in reading order. */
function visibleItems(tree: HTMLElement): HTMLElement[] {
  return [...tree.querySelectorAll<HTMLElement>("[role=treeitem]")].filter((item) => item.parentElement?.closest("[role=group][hidden]") === null);
}

/** One item takes Tab (the one focused before a redraw, else the selected one, else the first). */
function roveFocus(tree: HTMLElement, focusedKey: string | undefined): void {
  const items = visibleItems(tree);
  const target =
    (focusedKey === undefined ? undefined : items.find((item) => item.dataset.key === focusedKey)) ?? items.find((item) => item.getAttribute("aria-selected") === "true") ?? items[0];
  if (target === undefined) return;
  target.tabIndex = 0;
  if (focusedKey !== undefined) target.focus();
}

function toggle(item: HTMLElement, state: State, render: () => void): void {
  if (!item.hasAttribute("aria-expanded")) return;
  const key = item.dataset.key!;
  if (!state.collapsed.delete(key)) state.collapsed.add(key);
  render();
}

function onTreeKey(event: KeyboardEvent, tree: HTMLElement, state: State, render: () => void, select: (id: string) => void): void {
  const item = (event.target as Element).closest<HTMLElement>("[role=treeitem]");
  if (item === null) return;
  const items = visibleItems(tree);
  const at = items.indexOf(item);
  const move = (target: HTMLElement | undefined) => {
    if (target === undefined) return;
    for (const other of items) other.tabIndex = -1;
    target.tabIndex = 0;
    target.focus();
  };
  const expanded = item.getAttribute("aria-expanded");
  switch (event.key) {
    case "ArrowDown":
      move(items[at + 1]);
      break;
    case "ArrowUp":
      move(items[at - 1]);
      break;
    case "Home":
      move(items[0]);
      break;
    case "End":
      move(items.at(-1));
      break;
    case "ArrowRight":
      if (expanded === "false") toggle(item, state, render);
      else if (expanded === "true") move(item.querySelector<HTMLElement>("[role=group] > [role=treeitem]") ?? undefined);
      break;
    case "ArrowLeft":
      if (expanded === "true") toggle(item, state, render);
      else move(item.parentElement?.closest<HTMLElement>("[role=treeitem]") ?? undefined);
      break;
    case "Enter":
    case " ":
      select(item.dataset.candidateId!);
      break;
    default:
      return;
  }
  event.preventDefault();
}

// ---- the selected candidate -----------------------------------------------------------------

function renderDetails(section: HTMLElement, state: State): void {
  const candidate = state.selected === undefined ? undefined : state.run.candidates.get(state.selected);
  if (candidate === undefined) {
    show(section, h("h2", { id: "candidate-title" }, "Candidate"), h("p", { class: "empty" }, "Select a candidate in the lineage to see its edits and the feedback behind them."));
    return;
  }
  show(
    section,
    h("h2", { id: "candidate-title" }, "Candidate ", h("span", { class: "mono" }, candidate.candidateId)),
    h("p", { class: "meta" }, metaText(candidate)),
    h("h3", {}, candidate.origin === "seed" ? "Seed" : "Why (critique / feedback)"),
    candidate.rationale === null ? h("p", { class: "empty" }, candidate.origin === "seed" ? "The starting prompt." : "No rationale recorded.") : h("blockquote", { class: "rationale" }, candidate.rationale),
    scoresTable(state.run.scores.get(candidate.candidateId)),
    h("h3", {}, "Edits"),
    ...(candidate.edits.length === 0 ? [h("p", { class: "empty" }, "No component changed.")] : candidate.edits.map((edit) => editTable(edit, candidate.parents[0]))),
  );
}

function metaText(candidate: CandidateData): string {
  const parents = candidate.parents.length === 0 ? "no parent" : `${candidate.parents.length > 1 ? "parents" : "parent"} ${candidate.parents.join(", ")}`;
  return `${candidate.origin} · iteration ${candidate.iteration} · ${parents} · ${candidate.accepted ? "accepted" : "rejected by the gate"} · resources ${candidate.resourcesId}`;
}

function scoresTable(scores: readonly ScoreData[] | undefined): Child {
  if (scores === undefined || scores.length === 0) return h("p", { class: "empty" }, "Not scored.");
  const head = ["On", "Mean", "95% interval", "Tasks", "Tokens", "Cost", "Tokens / reward"];
  return h(
    "table",
    { class: "scores-table" },
    h("caption", { class: "visually-hidden" }, "Latest scores"),
    h("thead", {}, h("tr", {}, ...head.map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      {},
      ...scores.map((score) =>
        h(
          "tr",
          {},
          h("td", {}, score.on),
          h("td", { class: "num" }, score.mean === null ? "—" : number(score.mean)),
          h("td", { class: "num" }, score.ci95 === null ? "—" : `${number(score.ci95[0])} – ${number(score.ci95[1])}`),
          h("td", { class: "num" }, score.n),
          h("td", { class: "num", title: score.tokens === undefined ? "not recorded" : tokensLine(score.tokens) }, score.tokens === undefined ? "—" : score.tokens.total),
          h("td", { class: "num" }, score.tokens === undefined ? "—" : costText(score.tokens.costUsd, score.tokens.unpricedModels)),
          h("td", { class: "num" }, perRewardText(score.tokensPerReward)),
        ),
      ),
    ),
  );
}

/** A component's text before (the first parent's) and after, side by side, changed words marked. */
function editTable(edit: CandidateData["edits"][number], parent: string | undefined): HTMLTableElement {
  const rows = lineDiff(edit.before, edit.after);
  return h(
    "table",
    { class: "diff", "data-component": edit.component },
    h("caption", {}, "Component ", h("span", { class: "mono" }, edit.component)),
    h("colgroup", {}, h("col", { class: "ln" }), h("col", {}), h("col", { class: "ln" }), h("col", {})),
    h("thead", {}, h("tr", {}, h("th", { scope: "col", colspan: 2 }, parent === undefined ? "Before" : `Before (${parent})`), h("th", { scope: "col", colspan: 2 }, "After"))),
    h("tbody", {}, ...rows.map(diffRow)),
  );
}

function diffRow(row: DiffRow): HTMLTableRowElement {
  const lineNo = (n: number | undefined) => h("td", { class: "ln", "aria-hidden": "true" }, n ?? "");
  if (row.kind === "changed") {
    const words = wordDiff(row.left.text, row.right.text);
    return h(
      "tr",
      { class: "changed" },
      lineNo(row.left.n),
      h("td", { class: "before" }, ...words.before.map((w) => (w.changed ? h("del", {}, w.text) : w.text))),
      lineNo(row.right.n),
      h("td", { class: "after" }, ...words.after.map((w) => (w.changed ? h("ins", {}, w.text) : w.text))),
    );
  }
  const left = row.kind === "added" ? undefined : row.left;
  const right = row.kind === "removed" ? undefined : row.right;
  return h(
    "tr",
    { class: row.kind },
    lineNo(left?.n),
    h("td", { class: "before" }, left === undefined ? "" : row.kind === "removed" ? h("del", {}, left.text) : left.text),
    lineNo(right?.n),
    h("td", { class: "after" }, right === undefined ? "" : row.kind === "added" ? h("ins", {}, right.text) : right.text),
  );
}

// ---- front and spend ------------------------------------------------------------------------

function renderFront(section: HTMLElement, beam: boolean, front: FrontData | undefined): void {
  const name = beam ? "Beam" : "Pareto front";
  if (front === undefined) {
    show(section, h("h2", { id: "front-title" }, name), h("p", { class: "empty" }, "Not recorded yet."));
    return;
  }
  const members = frontMembers(front, beam ? "beam" : "front");
  show(
    section,
    h("h2", { id: "front-title" }, `${name} after iteration ${front.iteration}`),
    h("p", { class: "empty" }, front.wins === undefined ? "The candidates still in play (highlighted in the lineage)." : "The candidates still in play (highlighted in the lineage), with the tasks each wins."),
    h("ol", { class: "front" }, ...members.map((m) => h("li", { "data-candidate-id": m.candidateId }, h("span", { class: "mono" }, m.candidateId), m.wins === undefined ? null : ` — ${m.wins} win${m.wins === 1 ? "" : "s"}`))),
  );
}

/** The bar's filled part; sized through the CSSOM, which the page's style-src 'self' policy allows (a style attribute it would not). */
function fill(percent: number): HTMLElement {
  const element = h("span", { class: "fill" });
  element.style.width = `${percent.toFixed(1)}%`;
  return element;
}

function renderSpend(section: HTMLElement, spend: SpendData | undefined): void {
  if (spend === undefined) {
    show(section, h("h2", { id: "spend-title" }, "Spend"), h("p", { class: "empty" }, "Not recorded yet."));
    return;
  }
  const amount = (value: number, unit: "count" | "usd") => (unit === "usd" ? `$${value.toFixed(2)}` : Math.round(value).toLocaleString("en"));
  show(
    section,
    h("h2", { id: "spend-title" }, "Spend against budget"),
    h(
      "div",
      { class: "spend" },
      ...spendBars(spend).map((bar) => {
        const text = bar.limit === null ? `${amount(bar.used, bar.unit)} — no limit` : `${amount(bar.used, bar.unit)} of ${amount(bar.limit, bar.unit)}`;
        const width = Math.min(1, bar.share ?? 0) * 100;
        return h(
          "div",
          { class: "spend-row", "data-spend": bar.label },
          h("span", { class: "spend-label" }, bar.label),
          bar.share === undefined
            ? h("span", { class: "meter no-limit", "aria-hidden": "true" })
            : h(
                "span",
                { class: `meter${bar.share > 1 ? " over" : ""}`, role: "meter", "aria-label": bar.label, "aria-valuemin": 0, "aria-valuemax": bar.limit ?? 0, "aria-valuenow": bar.used, "aria-valuetext": text },
                fill(width),
              ),
          h("span", { class: "spend-text" }, text, bar.share === undefined ? "" : ` (${Math.round(bar.share * 100)}%)`),
        );
      }),
    ),
  );
}
