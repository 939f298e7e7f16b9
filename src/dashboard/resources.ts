/**
 * The resources page (`#/resources`, `#/resources/<resourcesId>` for a chosen version): the
 * store's resources snapshots, newest first, and a side-by-side diff of the chosen one against the
 * version before it — prompt templates and JSON line by line, LLM endpoints field by field. New
 * versions appear as the store announces them.
 */
import type { Api } from "./api.js";
import { type DiffRow, type FieldRow, type ResourceChange, foldUnchanged, resourcesDiff } from "./diff.js";
import { type Child, h, show } from "./dom.js";
import { time } from "./format.js";
import type { Live } from "./live.js";
import type { Page, ResourcesSnapshot, StoreEvent } from "./records.js";

const PAGE_SIZE = 50;
/** Unchanged lines kept around a change; longer unchanged runs are folded to one row. */
const CONTEXT = 3;

interface State {
  /** Snapshots loaded so far, newest first (the store's order). */
  versions: ResourcesSnapshot[];
  next: string | null;
  chosen: string | undefined;
}

/** Renders the page into `main`, `chosen` (a resources id) diffed, else the newest; returns what stops its live updates. */
export function resourcesPage(main: HTMLElement, api: Api, live: Live, chosen: string | undefined): () => void {
  const state: State = { versions: [], next: null, chosen };
  const tbody = h("tbody");
  const problem = h("p", { class: "error", role: "alert", hidden: true });
  const olderButton = h("button", { type: "button", onclick: () => void older() }, "Older versions");
  const diffSection = h("section", { id: "diff", "aria-labelledby": "diff-title" });

  const fail = (what: string, error: unknown) => {
    problem.hidden = false;
    problem.textContent = `${what}: ${error instanceof Error ? error.message : String(error)}`;
  };

  const renderList = () => {
    const focused = document.activeElement instanceof HTMLElement && main.contains(document.activeElement) ? document.activeElement.id : "";
    show(tbody, ...(state.versions.length === 0 ? [h("tr", {}, h("td", { colspan: 4, class: "empty" }, "The store holds no resources yet."))] : []));
    const current = chosenSnapshot(state);
    for (const snapshot of state.versions) tbody.append(versionRow(snapshot, snapshot === current));
    olderButton.disabled = state.next === null;
    if (focused !== "") document.getElementById(focused)?.focus();
  };

  const renderDiff = async () => {
    const current = chosenSnapshot(state);
    if (current === undefined) {
      show(diffSection);
      return;
    }
    const previous = await previousOf(current);
    show(diffSection, ...diffView(current, previous));
  };

  /** The version just below `snapshot`, loading older pages until it is found (undefined: the first version). */
  const previousOf = async (snapshot: ResourcesSnapshot): Promise<ResourcesSnapshot | undefined> => {
    for (;;) {
      const below = state.versions.find((v) => v.version < snapshot.version);
      if (below !== undefined || state.next === null) return below;
      // Without the older page, "the first version" would be a lie: say it could not be shown.
      if (!(await older())) throw new Error(`the version before v${snapshot.version} could not be loaded`);
    }
  };

  /** Loads the next older page; false (the problem shown) when it could not. */
  const older = async (): Promise<boolean> => {
    if (state.next === null) return true;
    try {
      const page = await api.get<Page<ResourcesSnapshot>>(`/v1/resources?${new URLSearchParams({ limit: String(PAGE_SIZE), cursor: state.next })}`);
      merge(state, page.items);
      state.next = page.nextCursor;
      renderList();
      return true;
    } catch (error) {
      fail("Could not load older versions", error);
      return false;
    }
  };

  const load = async () => {
    try {
      const page = await api.get<Page<ResourcesSnapshot>>(`/v1/resources?limit=${PAGE_SIZE}`);
      const first = state.versions.length === 0;
      merge(state, page.items);
      if (first) state.next = page.nextCursor;
      // A chosen version the first page does not hold is fetched on its own.
      if (state.chosen !== undefined && !state.versions.some((v) => v.resourcesId === state.chosen)) {
        merge(state, [await api.get<ResourcesSnapshot>(`/v1/resources/${encodeURIComponent(state.chosen)}`)]);
      }
      problem.hidden = true;
      renderList();
      await renderDiff();
    } catch (error) {
      fail("Could not load resources", error);
    }
  };

  const choose = (resourcesId: string) => {
    state.chosen = resourcesId;
    history.replaceState(null, "", `#/resources/${encodeURIComponent(resourcesId)}`);
    renderList();
    renderDiff().catch((error: unknown) => fail("Could not load the previous version", error));
  };
  tbody.addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest<HTMLButtonElement>("button[data-resources-id]") : null;
    if (button?.dataset.resourcesId !== undefined) choose(button.dataset.resourcesId);
  });

  const unsubscribe = live.subscribe((event: StoreEvent) => {
    // A new version joins the top; when none was chosen, the diff follows the newest.
    if (event.type === "resources" && !state.versions.some((v) => v.resourcesId === event.resourcesId)) void load();
  });

  show(
    main,
    h("h1", {}, "Resources"),
    problem,
    h(
      "table",
      { id: "versions" },
      h("caption", { class: "empty" }, "Resources snapshots, newest first. A version's button shows what changed since the version before it."),
      h("thead", {}, h("tr", {}, ...["Version", "Id", "Created", "Resources"].map((c) => h("th", { scope: "col" }, c)))),
      tbody,
    ),
    h("div", { class: "pager" }, olderButton),
    diffSection,
  );
  void load();
  return unsubscribe;
}

/** Adds snapshots not yet known, keeping newest first. */
function merge(state: State, snapshots: readonly ResourcesSnapshot[]): void {
  const known = new Set(state.versions.map((v) => v.resourcesId));
  state.versions.push(...snapshots.filter((s) => !known.has(s.resourcesId)));
  state.versions.sort((a, b) => b.version - a.version);
}

function chosenSnapshot(state: State): ResourcesSnapshot | undefined {
  return state.chosen === undefined ? state.versions[0] : state.versions.find((v) => v.resourcesId === state.chosen);
}

function versionRow(snapshot: ResourcesSnapshot, chosen: boolean): HTMLTableRowElement {
  return h(
    "tr",
    { "data-resources-id": snapshot.resourcesId, class: chosen ? "chosen" : undefined, "aria-current": chosen ? "true" : undefined },
    h(
      "td",
      {},
      h("button", { type: "button", id: `version-${snapshot.resourcesId}`, "data-resources-id": snapshot.resourcesId, "aria-pressed": String(chosen), "aria-label": `Changes in version ${snapshot.version}` }, `v${snapshot.version}`),
    ),
    h("td", { class: "mono" }, snapshot.resourcesId),
    h("td", { class: "time" }, time(snapshot.createdAt)),
    h("td", {}, h("ul", { class: "names" }, ...Object.entries(snapshot.resources).map(([name, r]) => h("li", {}, h("span", { class: "mono" }, name), " ", h("span", { class: "kind" }, r.kind))))),
  );
}

function diffView(current: ResourcesSnapshot, previous: ResourcesSnapshot | undefined): Child[] {
  const changes = resourcesDiff(previous?.resources, current.resources);
  const changed = changes.filter((c) => c.change !== "same");
  const same = changes.filter((c) => c.change === "same");
  const title = previous === undefined ? `v${current.version} (${current.resourcesId}), the first version` : `v${current.version} (${current.resourcesId}) against v${previous.version} (${previous.resourcesId})`;
  return [
    h("h2", { id: "diff-title" }, title),
    changed.length === 0 ? h("p", { class: "empty" }, "No resource changed.") : null,
    ...changed.map((change) => changeView(change, previous, current)),
    same.length === 0 ? null : h("p", { class: "empty unchanged" }, `Unchanged: ${same.map((c) => c.name).join(", ")}.`),
  ];
}

function changeView(change: ResourceChange, previous: ResourcesSnapshot | undefined, current: ResourcesSnapshot): HTMLElement {
  const kinds = change.kinds.before === change.kinds.after || change.kinds.before === undefined || change.kinds.after === undefined ? (change.kinds.after ?? change.kinds.before) : `${change.kinds.before} → ${change.kinds.after}`;
  const left = previous === undefined ? "before" : `v${previous.version}`;
  const right = `v${current.version}`;
  const label = `${change.name}: ${left} and ${right} side by side`;
  return h(
    "article",
    { class: `resource-change change-${change.change}`, "data-resource": change.name, "data-change": change.change },
    h("h3", {}, h("span", { class: "mono" }, change.name), " ", h("span", { class: "kind" }, kinds), " ", h("span", { class: "badge" }, change.change)),
    change.body.type === "lines" ? linesTable(change.body.rows, label, left, right) : fieldsTable(change.body.rows, label, left, right),
  );
}

function linesTable(rows: readonly DiffRow[], label: string, left: string, right: string): HTMLTableElement {
  const body = h("tbody");
  for (const item of foldUnchanged(rows, CONTEXT)) {
    if ("folded" in item) {
      body.append(h("tr", { class: "diff-fold" }, h("td", { colspan: 4 }, `⋯ ${item.folded} unchanged line${item.folded === 1 ? "" : "s"}`)));
      continue;
    }
    const row = item;
    const before = row.kind === "added" ? undefined : row.left;
    const after = row.kind === "removed" ? undefined : row.right;
    const changed = row.kind !== "same";
    body.append(
      h(
        "tr",
        { class: `diff-${row.kind}` },
        h("td", { class: "ln" }, before?.n),
        h("td", { class: "side before" }, before === undefined ? null : changed ? h("del", {}, before.text) : before.text),
        h("td", { class: "ln" }, after?.n),
        h("td", { class: "side after" }, after === undefined ? null : changed ? h("ins", {}, after.text) : after.text),
      ),
    );
  }
  return h(
    "table",
    { class: "diff lines", "aria-label": label },
    h("thead", {}, h("tr", {}, h("th", { scope: "col", class: "ln" }, "#"), h("th", { scope: "col" }, left), h("th", { scope: "col", class: "ln" }, "#"), h("th", { scope: "col" }, right))),
    body,
  );
}

function fieldsTable(rows: readonly FieldRow[], label: string, left: string, right: string): HTMLTableElement {
  return h(
    "table",
    { class: "diff fields", "aria-label": label },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Field"), h("th", { scope: "col" }, left), h("th", { scope: "col" }, right))),
    h(
      "tbody",
      {},
      ...rows.map((row) =>
        h(
          "tr",
          { class: row.changed ? "diff-changed" : "diff-same", "data-field": row.field },
          h("th", { scope: "row", class: "mono" }, row.field),
          h("td", { class: "side before mono" }, row.before === undefined ? "—" : row.changed ? h("del", {}, row.before) : row.before),
          h("td", { class: "side after mono" }, row.after === undefined ? "—" : row.changed ? h("ins", {}, row.after) : row.after),
        ),
      ),
    ),
  );
}
