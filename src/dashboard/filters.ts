/**
 * The rollouts page's view — filters and sort — as one record of strings, the form the address
 * (`#/?status=failed&sortBy=finalReward`) and the form fields both hold, so a reload or a shared
 * link shows the same view. It is checked here before it becomes a `GET /v1/rollouts` query: a bad
 * number or an empty range is explained next to its field instead of being sent.
 */

export interface SelectFilter {
  /** The query parameter of `GET /v1/rollouts`. */
  param: "status" | "mode";
  label: string;
  /** Values offered besides "all". */
  values: readonly string[];
}

export const ROLLOUT_FILTERS: readonly SelectFilter[] = [
  { param: "status", label: "Status", values: ["queuing", "running", "requeuing", "succeeded", "failed", "cancelled"] },
  { param: "mode", label: "Mode", values: ["train", "val", "test"] },
];

/** The store's sort fields (`sortBy`); the page's sortable columns. */
export const SORT_FIELDS = ["createdAt", "endedAt", "finalReward", "duration"] as const;
export type SortField = (typeof SORT_FIELDS)[number];
export type Order = "asc" | "desc";

/** Every field of the view, as typed (times in ms since the epoch); "" is unset. */
const FIELDS = ["status", "mode", "text", "minReward", "maxReward", "createdAfter", "createdBefore"] as const;
export type Field = (typeof FIELDS)[number];

export interface View {
  fields: Record<Field, string>;
  sortBy: SortField;
  order: Order;
}

/** Newest first, nothing filtered: the view of a bare `#/`. */
export function defaultView(): View {
  return { fields: { status: "", mode: "", text: "", minReward: "", maxReward: "", createdAfter: "", createdBefore: "" }, sortBy: "createdAt", order: "desc" };
}

/** The view an address's hash names (`#/?…`); unknown parameters and bad sort values fall back to the default. */
export function viewFromHash(hash: string): View {
  const view = defaultView();
  const query = hash.indexOf("?");
  if (query < 0) return view;
  const params = new URLSearchParams(hash.slice(query + 1));
  for (const field of FIELDS) view.fields[field] = params.get(field) ?? "";
  const sortBy = params.get("sortBy");
  if ((SORT_FIELDS as readonly string[]).includes(sortBy ?? "")) view.sortBy = sortBy as SortField;
  const order = params.get("order");
  if (order === "asc" || order === "desc") view.order = order;
  return view;
}

/** The hash that names `view`: only what differs from the default, so a plain view stays `#/`. */
export function hashOf(view: View): string {
  const params = new URLSearchParams();
  for (const field of FIELDS) if (view.fields[field] !== "") params.set(field, view.fields[field]);
  if (view.sortBy !== "createdAt" || view.order !== "desc") {
    params.set("sortBy", view.sortBy);
    params.set("order", view.order);
  }
  const query = params.toString();
  return query === "" ? "#/" : `#/?${query}`;
}

/** What is wrong with each field of a view (none when it can be sent). */
export type Problems = Partial<Record<Field, string>>;

export function problemsOf(view: View): Problems {
  const problems: Problems = {};
  const { minReward, maxReward, createdAfter, createdBefore } = view.fields;
  const min = numberProblem(minReward, problems, "minReward");
  const max = numberProblem(maxReward, problems, "maxReward");
  if (min !== undefined && max !== undefined && min > max) problems.maxReward = `Must be at least the minimum reward (${min}).`;
  const after = timeProblem(createdAfter, problems, "createdAfter");
  const before = timeProblem(createdBefore, problems, "createdBefore");
  if (after !== undefined && before !== undefined && after >= before) problems.createdBefore = "Must be later than “created after”.";
  if (view.fields.text.length > 256) problems.text = `At most 256 characters (got ${view.fields.text.length}).`;
  return problems;
}

function numberProblem(value: string, problems: Problems, field: Field): number | undefined {
  if (value.trim() === "") return undefined;
  const n = Number(value);
  if (Number.isFinite(n)) return n;
  problems[field] = `Not a number: “${value}”.`;
  return undefined;
}

function timeProblem(value: string, problems: Problems, field: Field): number | undefined {
  if (value === "") return undefined;
  const n = Number(value);
  if (Number.isSafeInteger(n) && n >= 0) return n;
  problems[field] = "Not a date and time.";
  return undefined;
}

/** The query string for a page of rollouts under a view without problems. */
export function rolloutQuery(view: View, limit: number, cursor: string | undefined): string {
  const params = new URLSearchParams({ sortBy: view.sortBy, order: view.order, limit: String(limit) });
  for (const field of FIELDS) {
    const value = view.fields[field].trim();
    if (value !== "") params.set(field, field === "text" ? view.fields.text : value);
  }
  if (cursor !== undefined) params.set("cursor", cursor);
  return params.toString();
}

/** What the page needs of a rollout to decide whether it belongs to a view. */
export interface RolloutFields {
  status: string;
  mode: string;
  createdAt: number;
  finalReward: number | null;
}

/**
 * Whether a rollout that changed while the page is open still passes the view. Its id and input,
 * which `text` searches, never change, so a row already shown keeps passing on text.
 */
export function stillMatches(view: View, rollout: RolloutFields): boolean {
  const { status, mode, minReward, maxReward, createdAfter, createdBefore } = view.fields;
  if ((status && status !== rollout.status) || (mode && mode !== rollout.mode)) return false;
  if ((minReward || maxReward) && rollout.finalReward === null) return false;
  if (minReward && rollout.finalReward! < Number(minReward)) return false;
  if (maxReward && rollout.finalReward! > Number(maxReward)) return false;
  if (createdAfter && rollout.createdAt < Number(createdAfter)) return false;
  return !(createdBefore && rollout.createdAt >= Number(createdBefore));
}

/**
 * Whether a rollout new to the page goes at the top of its first page: only newest-first shows new
 * rollouts there, and without a text filter (the store's matching is not repeated here).
 */
export function joinsFirstPage(view: View, rollout: RolloutFields): boolean {
  return view.sortBy === "createdAt" && view.order === "desc" && view.fields.text === "" && stillMatches(view, rollout);
}

/** What the page needs of a rollout to place it under a view's sort. */
export interface SortableFields {
  createdAt: number;
  endedAt: number | null;
  finalReward: number | null;
}

/** A rollout's value under a sort field; null (unfinished, unrewarded) sorts last either way. */
export function sortValueOf(rollout: SortableFields, field: SortField): number | null {
  if (field === "duration") return rollout.endedAt === null ? null : rollout.endedAt - rollout.createdAt;
  return rollout[field];
}

/**
 * The rows in the view's order, as the store orders them: by the sort field, a missing value last
 * whatever the direction, ties by creation in the same direction. Rows the store would still tie
 * (same creation time) keep their order, so a live update moves only the row that changed.
 */
export function sortedRows<T extends SortableFields>(view: Pick<View, "sortBy" | "order">, rows: readonly T[]): T[] {
  const sign = view.order === "asc" ? 1 : -1;
  return [...rows].sort((a, b) => {
    const [x, y] = [sortValueOf(a, view.sortBy), sortValueOf(b, view.sortBy)];
    if (x !== y) {
      if (x === null) return 1;
      if (y === null) return -1;
      return sign * (x - y);
    }
    return sign * (a.createdAt - b.createdAt);
  });
}
