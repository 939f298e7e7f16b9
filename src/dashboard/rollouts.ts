/**
 * The rollouts page: a page of rollouts (newest first) under the filters, a row expands into its
 * attempts, and rows change and appear as store events arrive.
 */
import type { Api } from "./api.js";
import { type Child, h, show } from "./dom.js";
import { type FilterValues, ROLLOUT_FILTERS, matches, rolloutQuery } from "./filters.js";
import { duration, preview, reward, time } from "./format.js";
import type { Live } from "./live.js";
import type { Attempt, Page, Rollout, StoreEvent } from "./records.js";

const PAGE_SIZE = 25;
const COLUMNS = ["", "Rollout", "Status", "Mode", "Task", "Reward", "Attempts", "Duration", "Worker", "Resources"];

interface State {
  filters: FilterValues;
  /** Cursors of the pages before this one (to go back), and of this one. */
  previous: Array<string | undefined>;
  cursor: string | undefined;
  next: string | null;
  rows: Map<string, Rollout>;
  expanded: Set<string>;
}

/** Renders the page into `main`; returns what stops its live updates. */
export function rolloutsPage(main: HTMLElement, api: Api, live: Live): () => void {
  const state: State = { filters: {}, previous: [], cursor: undefined, next: null, rows: new Map(), expanded: new Set() };
  const tbody = h("tbody");
  const pageInfo = h("span", { role: "status" });
  const olderButton = h("button", { type: "button", onclick: () => void go(state.next ?? undefined, "forward") }, "Older");
  const newerButton = h("button", { type: "button", onclick: () => void go(state.previous.at(-1), "back") }, "Newer");
  const problem = h("p", { class: "error", role: "alert", hidden: true });

  const render = () => {
    show(tbody, ...(state.rows.size === 0 ? [h("tr", {}, h("td", { colspan: COLUMNS.length, class: "empty" }, "No rollouts match."))] : []));
    for (const rollout of state.rows.values()) tbody.append(...rolloutRows(rollout, state.expanded.has(rollout.rolloutId), () => toggle(rollout.rolloutId)));
    olderButton.disabled = state.next === null;
    newerButton.disabled = state.previous.length === 0;
    pageInfo.textContent = `${state.rows.size} rollout${state.rows.size === 1 ? "" : "s"} on this page`;
  };

  const toggle = (rolloutId: string) => {
    if (!state.expanded.delete(rolloutId)) state.expanded.add(rolloutId);
    render();
    document.getElementById(`expand-${rolloutId}`)?.focus();
  };

  const load = async () => {
    try {
      const page = await api.get<Page<Rollout>>(`/v1/rollouts?${rolloutQuery(state.filters, PAGE_SIZE, state.cursor)}`);
      state.rows = new Map(page.items.map((r) => [r.rolloutId, r]));
      state.next = page.nextCursor;
      problem.hidden = true;
      render();
    } catch (error) {
      problem.hidden = false;
      problem.textContent = `Could not load rollouts: ${error instanceof Error ? error.message : String(error)}`;
    }
  };

  const go = async (cursor: string | undefined, direction: "forward" | "back") => {
    if (direction === "forward") state.previous.push(state.cursor);
    else state.previous.pop();
    state.cursor = cursor;
    await load();
  };

  const controls = ROLLOUT_FILTERS.map((filter) => {
    const select = h("select", { id: `filter-${filter.param}`, name: filter.param }, h("option", { value: "" }, "all"), ...filter.values.map((v) => h("option", { value: v }, v)));
    select.addEventListener("change", () => {
      state.filters[filter.param] = select.value;
      state.previous = [];
      state.cursor = undefined;
      void load();
    });
    return h("label", {}, filter.label, select);
  });

  // Live: a changed rollout is re-read; a new one joins the first page when it passes the filters.
  const pending = new Set<string>();
  const refresh = async (rolloutId: string) => {
    const rollout = await api.get<Rollout>(`/v1/rollouts/${encodeURIComponent(rolloutId)}`);
    const passes = matches(state.filters, { status: rollout.status, mode: rollout.mode });
    if (state.rows.has(rolloutId)) {
      if (passes) state.rows.set(rolloutId, rollout);
      else state.rows.delete(rolloutId);
    } else if (passes && state.cursor === undefined) {
      state.rows = new Map([[rolloutId, rollout], ...state.rows]);
    } else return;
    render();
  };
  const onEvent = (event: StoreEvent) => {
    if (event.type !== "rollout" && event.type !== "attempt") return;
    if (pending.has(event.rolloutId)) return;
    pending.add(event.rolloutId);
    // Events of one rollout often come in bursts (attempt, then rollout): one read per frame.
    requestAnimationFrame(() => {
      pending.delete(event.rolloutId);
      refresh(event.rolloutId).catch((error: unknown) => {
        problem.hidden = false;
        problem.textContent = `Live update failed: ${error instanceof Error ? error.message : String(error)}`;
      });
    });
  };
  const unsubscribe = live.subscribe(onEvent);

  show(
    main,
    h("h1", {}, "Rollouts"),
    h("form", { class: "filters", "aria-label": "Filters", onsubmit: (e: Event) => e.preventDefault() }, ...controls),
    problem,
    h("table", { id: "rollouts" }, h("caption", { class: "empty" }, "Newest first; a row's button shows its attempts."), h("thead", {}, h("tr", {}, ...COLUMNS.map((c) => h("th", { scope: "col" }, c)))), tbody),
    h("div", { class: "pager" }, newerButton, olderButton, pageInfo),
  );
  void load();
  return unsubscribe;
}

function rolloutRows(rollout: Rollout, expanded: boolean, toggle: () => void): HTMLTableRowElement[] {
  const last = rollout.attempts.at(-1);
  const button = h(
    "button",
    { type: "button", id: `expand-${rollout.rolloutId}`, "aria-expanded": String(expanded), "aria-controls": `attempts-${rollout.rolloutId}`, "aria-label": `Attempts of ${rollout.rolloutId}`, onclick: toggle },
    expanded ? "▾" : "▸",
  );
  const row = h(
    "tr",
    { "data-rollout-id": rollout.rolloutId, "data-status": rollout.status },
    h("td", {}, button),
    h("td", { class: "mono" }, rollout.rolloutId),
    h("td", { class: `status status-${rollout.status}` }, rollout.status),
    h("td", {}, rollout.mode),
    h("td", { title: preview(rollout.input, 500) }, preview(rollout.input)),
    h("td", { class: "num" }, reward(rollout.finalReward)),
    h("td", { class: "num" }, rollout.attempts.length),
    h("td", { class: "num" }, duration(rollout.endedAt === null ? null : rollout.endedAt - rollout.createdAt)),
    h("td", { class: "mono" }, last?.workerId ?? "—"),
    h("td", { class: "mono" }, rollout.resourcesId ?? "—"),
  );
  if (!expanded) return [row];
  return [row, h("tr", { class: "attempts", id: `attempts-${rollout.rolloutId}` }, h("td", {}), h("td", { colspan: COLUMNS.length - 1 }, attemptsTable(rollout.attempts)))];
}

function attemptsTable(attempts: readonly Attempt[]): Child {
  if (attempts.length === 0) return h("p", { class: "empty" }, "No attempt yet (queued).");
  const head = ["#", "Attempt", "Status", "Worker", "Started", "Duration", "Reward", "Spans", "Error", ""];
  return h(
    "table",
    { class: "attempt-table" },
    h("thead", {}, h("tr", {}, ...head.map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      {},
      ...attempts.map((a) =>
        h(
          "tr",
          { "data-attempt-id": a.attemptId },
          h("td", { class: "num" }, a.sequence),
          h("td", { class: "mono" }, a.attemptId),
          h("td", { class: `status status-${a.status}` }, a.status),
          h("td", { class: "mono" }, a.workerId ?? "—"),
          h("td", {}, time(a.startedAt)),
          h("td", { class: "num" }, duration(a.endedAt === null ? null : a.endedAt - a.startedAt)),
          h("td", { class: "num" }, reward(a.finalReward)),
          h("td", { class: "num" }, a.spanCount),
          h("td", {}, a.error ? `${a.error.kind}: ${a.error.message}` : ""),
          h("td", {}, h("a", { href: `#/trace/${encodeURIComponent(a.rolloutId)}/${encodeURIComponent(a.attemptId)}` }, "Trace")),
        ),
      ),
    ),
  );
}
