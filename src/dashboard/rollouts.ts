/**
 * The rollouts page: a page of rollouts under the view (filters and sort, kept in the address),
 * sortable column headers, a row expands into its attempts, and rows change, appear and (under a
 * sort by a value that changes) move as store events arrive. Each row names the resources version
 * it ran with and the policy version that answered it (see versions.ts), and what an ended
 * rollout's latest attempt spent in tokens (token-cells.ts).
 */
import type { Api } from "./api.js";
import { type Child, h, show } from "./dom.js";
import { type Field, type RolloutFields, type SortField, type View, ROLLOUT_FILTERS, hashOf, joinsFirstPage, problemsOf, rolloutQuery, sortedRows, stillMatches, viewFromHash } from "./filters.js";
import { duration, preview, reward, time } from "./format.js";
import type { Live } from "./live.js";
import type { Attempt, Page, Rollout, StoreEvent } from "./records.js";
import { type TokenCell, TokenCells } from "./token-cells.js";
import { type RowVersions, Versions } from "./versions.js";

const PAGE_SIZE = 25;
/** The table's columns; those with a sort field are sortable. */
const COLUMNS: ReadonlyArray<{ label: string; sort?: SortField }> = [
  { label: "" },
  { label: "Rollout" },
  { label: "Status" },
  { label: "Mode" },
  { label: "Task" },
  { label: "Reward", sort: "finalReward" },
  { label: "Tokens" },
  { label: "Attempts" },
  { label: "Created", sort: "createdAt" },
  { label: "Ended", sort: "endedAt" },
  { label: "Duration", sort: "duration" },
  { label: "Worker" },
  { label: "Resources" },
  { label: "Policy" },
];

interface State {
  view: View;
  /** Cursors of the pages before this one (to go back), and of this one. */
  previous: Array<string | undefined>;
  cursor: string | undefined;
  next: string | null;
  rows: Map<string, Rollout>;
  expanded: Set<string>;
  /** Expanded rows whose full task is open (kept when a live update redraws the rows). */
  taskOpen: Set<string>;
}

/** Renders the page into `main` under the view the address names; returns what stops its live updates. */
export function rolloutsPage(main: HTMLElement, api: Api, live: Live): () => void {
  const state: State = { view: viewFromHash(location.hash), previous: [], cursor: undefined, next: null, rows: new Map(), expanded: new Set(), taskOpen: new Set() };
  const tbody = h("tbody");
  const pageInfo = h("span", { role: "status" });
  const olderButton = h("button", { type: "button", onclick: () => void go(state.next ?? undefined, "forward") }, "Older");
  const newerButton = h("button", { type: "button", onclick: () => void go(state.previous.at(-1), "back") }, "Newer");
  const problem = h("p", { class: "error", role: "alert", hidden: true });

  const versions = new Versions(api);
  const tokens = new TokenCells(api);
  const render = () => {
    // Rows are rebuilt: the focused control is found again by its id, so focus stays where it was.
    const focused = document.activeElement instanceof HTMLElement && tbody.contains(document.activeElement) ? document.activeElement.id : "";
    show(tbody, ...(state.rows.size === 0 ? [h("tr", {}, h("td", { colspan: COLUMNS.length, class: "empty" }, "No rollouts match."))] : []));
    for (const rollout of state.rows.values()) tbody.append(...rolloutRows(rollout, versions.of(rollout), tokens.of(rollout), state.expanded.has(rollout.rolloutId), () => toggle(rollout.rolloutId), state.taskOpen));
    if (focused !== "") document.getElementById(focused)?.focus();
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
      const page = await api.get<Page<Rollout>>(`/v1/rollouts?${rolloutQuery(state.view, PAGE_SIZE, state.cursor)}`);
      state.rows = new Map(page.items.map((r) => [r.rolloutId, r]));
      state.next = page.nextCursor;
      problem.hidden = true;
      render();
      await resolveVersions();
    } catch (error) {
      problem.hidden = false;
      problem.textContent = `Could not load rollouts: ${error instanceof Error ? error.message : String(error)}`;
    }
  };

  /** Reads what the rows' version cells need (each snapshot once), then shows it. */
  const resolveVersions = async () => {
    const [newVersions, newTokens] = await Promise.all([versions.load([...state.rows.values()]), tokens.load([...state.rows.values()])]);
    if (newVersions || newTokens) render();
  };

  const go = async (cursor: string | undefined, direction: "forward" | "back") => {
    if (direction === "forward") state.previous.push(state.cursor);
    else state.previous.pop();
    state.cursor = cursor;
    await load();
  };

  /** Shows `view` from its first page, and keeps it in the address (no new history entry). */
  const showView = (view: View) => {
    state.view = view;
    state.previous = [];
    state.cursor = undefined;
    history.replaceState(null, "", hashOf(view));
    headers.forEach((update) => update());
    void load();
  };

  const form = viewForm(state.view, () => state.view, showView);
  const headers: Array<() => void> = [];
  const headerCells = COLUMNS.map(({ label, sort }) => {
    if (sort === undefined) return h("th", { scope: "col" }, label);
    const button = h("button", { type: "button", class: "sort" }, label);
    const cell = h("th", { scope: "col" }, button);
    const update = () => {
      const sorted = state.view.sortBy === sort;
      cell.setAttribute("aria-sort", sorted ? (state.view.order === "asc" ? "ascending" : "descending") : "none");
      button.dataset.order = sorted ? state.view.order : "";
    };
    // A first click sorts highest (newest, longest) first; the next one reverses it.
    button.addEventListener("click", () => showView({ ...state.view, sortBy: sort, order: state.view.sortBy === sort && state.view.order === "desc" ? "asc" : "desc" }));
    headers.push(update);
    update();
    return cell;
  });

  // Live: a changed rollout is re-read; a new one joins the first page when the view would put it there.
  const pending = new Set<string>();
  const refresh = async (rolloutId: string) => {
    const rollout = await api.get<Rollout>(`/v1/rollouts/${encodeURIComponent(rolloutId)}`);
    if (state.rows.has(rolloutId)) {
      if (!stillMatches(state.view, rollout)) state.rows.delete(rolloutId);
      else {
        state.rows.set(rolloutId, rollout);
        // Only an end changes a sort value (reward, end time, duration): the rows are put back in order.
        if (state.view.sortBy !== "createdAt") state.rows = new Map(sortedRows(state.view, [...state.rows.values()]).map((r) => [r.rolloutId, r]));
      }
    } else if (state.cursor === undefined && joinsFirstPage(state.view, rollout satisfies RolloutFields)) {
      state.rows = new Map([[rolloutId, rollout], ...state.rows]);
    } else return;
    render();
    await resolveVersions();
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
    form,
    problem,
    h("table", { id: "rollouts" }, h("caption", { class: "empty" }, "A column's button sorts by it; a row's button shows its attempts."), h("thead", {}, h("tr", {}, ...headerCells)), tbody),
    h("div", { class: "pager" }, newerButton, olderButton, pageInfo),
  );
  // The address may name a view with problems (a hand-edited link): the form explains them as it
  // would a typed one, and only a view without any is loaded.
  form.requestSubmit();
  return unsubscribe;
}

/** The text, number and time fields of the form; the selects come from ROLLOUT_FILTERS. */
const INPUTS: ReadonlyArray<{ field: Field; label: string; kind: "text" | "number" | "time" }> = [
  { field: "text", label: "Text", kind: "text" },
  { field: "minReward", label: "Min reward", kind: "number" },
  { field: "maxReward", label: "Max reward", kind: "number" },
  { field: "createdAfter", label: "Created after", kind: "time" },
  { field: "createdBefore", label: "Created before", kind: "time" },
];

/**
 * The filter form, filled from `view`. It is checked as a whole when applied: a view with problems
 * is explained next to the fields at fault and not sent; one without is passed to `apply`.
 */
function viewForm(view: View, current: () => View, apply: (view: View) => void): HTMLFormElement {
  const controls = new Map<Field, HTMLInputElement | HTMLSelectElement>();
  const messages = new Map<Field, HTMLElement>();
  const field = (name: Field, label: string, control: HTMLInputElement | HTMLSelectElement) => {
    control.id = `filter-${name}`;
    control.name = name;
    const message = h("span", { id: `problem-${name}`, class: "field-error", hidden: true });
    controls.set(name, control);
    messages.set(name, message);
    // The message sits outside the label, so it is not part of the field's name.
    return h("div", { class: "field" }, h("label", { for: control.id }, label), control, message);
  };
  const selects = ROLLOUT_FILTERS.map((filter) => {
    const select = h("select", {}, h("option", { value: "" }, "all"), ...filter.values.map((v) => h("option", { value: v }, v)));
    select.value = view.fields[filter.param];
    return field(filter.param, filter.label, select);
  });
  const inputs = INPUTS.map(({ field: name, label, kind }) => {
    const input =
      kind === "time"
        ? h("input", { type: "datetime-local", step: "0.001" })
        : h("input", kind === "number" ? { type: "text", inputmode: "decimal", size: 6 } : { type: "search", size: 16 });
    input.value = kind === "time" ? localInputValue(view.fields[name]) : view.fields[name];
    return field(name, label, input);
  });

  const check = () => {
    // Sorting happens in the headers: keep the current sort, take the fields from here.
    const next: View = { ...current(), fields: { ...view.fields } };
    for (const [name, control] of controls) next.fields[name] = control.type === "datetime-local" ? msOfInput(control.value) : control.value;
    const problems = problemsOf(next);
    for (const [name, message] of messages) {
      const text = problems[name];
      message.hidden = text === undefined;
      message.textContent = text ?? "";
      controls.get(name)!.setAttribute("aria-invalid", String(text !== undefined));
      if (text !== undefined) controls.get(name)!.setAttribute("aria-describedby", message.id);
      else controls.get(name)!.removeAttribute("aria-describedby");
    }
    if (Object.keys(problems).length === 0) apply(next);
  };
  const form = h("form", { class: "filters", "aria-label": "Filters" }, ...selects, ...inputs, h("button", { type: "submit" }, "Apply"));
  // A select applies at once; typed fields wait for Enter or Apply, so half a range is not sent.
  form.addEventListener("change", (event) => {
    if (event.target instanceof HTMLSelectElement) check();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    check();
  });
  return form;
}

/** A time in ms (as the view keeps it) as a datetime-local input shows it: local time. */
function localInputValue(ms: string): string {
  if (ms === "" || !Number.isFinite(Number(ms))) return "";
  const date = new Date(Number(ms));
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

/** A datetime-local input's value (local time, no offset) in ms; "" stays unset. */
function msOfInput(value: string): string {
  if (value === "") return "";
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? value : String(ms);
}

function rolloutRows(rollout: Rollout, versions: RowVersions, tokens: TokenCell, expanded: boolean, toggle: () => void, taskOpen: Set<string>): HTMLTableRowElement[] {
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
    h("td", { class: "mono clip id", title: rollout.rolloutId }, rollout.rolloutId),
    h("td", { class: `status status-${rollout.status}` }, rollout.status),
    h("td", {}, rollout.mode),
    h("td", { class: "clip task", title: preview(rollout.input, 500) }, preview(rollout.input)),
    h("td", { class: "num" }, reward(rollout.finalReward)),
    h("td", { class: "num tokens", title: tokens.title }, tokens.text),
    h("td", { class: "num" }, rollout.attempts.length),
    timeCell(rollout.createdAt),
    timeCell(rollout.endedAt),
    h("td", { class: "num" }, duration(rollout.endedAt === null ? null : rollout.endedAt - rollout.createdAt)),
    h("td", { class: "mono clip worker", title: last?.workerId ?? undefined }, last?.workerId ?? "—"),
    h("td", { class: "mono resources", title: versions.resources.title }, versions.resources.text),
    h("td", { class: "mono policy", title: versions.policy.title }, versions.policy.text),
  );
  if (!expanded) return [row];
  return [
    row,
    h(
      "tr",
      { class: "attempts", id: `attempts-${rollout.rolloutId}` },
      h("td", {}),
      h("td", { colspan: COLUMNS.length - 1 }, taskDetails(rollout, taskOpen), attemptsTable(rollout.attempts)),
    ),
  ];
}

/** The whole task, folded under a summary; whether it is open outlives a redraw. */
function taskDetails(rollout: Rollout, taskOpen: Set<string>): HTMLDetailsElement {
  const details = h("details", { class: "task-full", open: taskOpen.has(rollout.rolloutId) }, h("summary", {}, "Task"), h("pre", {}, JSON.stringify(rollout.input, null, 2)));
  details.addEventListener("toggle", () => {
    if (details.open) taskOpen.add(rollout.rolloutId);
    else taskOpen.delete(rollout.rolloutId);
  });
  return details;
}

/** A time short enough for a narrow column — the clock time today, the date and minute before — with the full time as its title. */
function timeCell(ms: number | null): HTMLTableCellElement {
  if (ms === null) return h("td", { class: "time" }, "—");
  const date = new Date(ms);
  const today = date.toDateString() === new Date().toDateString();
  const text = today ? date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" }) : date.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  return h("td", { class: "time", title: time(ms) }, h("time", { datetime: date.toISOString() }, text));
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
