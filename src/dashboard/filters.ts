/**
 * The rollout filters, each one a descriptor: a labelled select that becomes one query parameter
 * of `GET /v1/rollouts`. A filter the API gains later (text, reward range, sorting) is one more
 * descriptor here; the page builds its controls and its query from this list.
 */

export interface SelectFilter {
  /** The query parameter of `GET /v1/rollouts`. */
  param: string;
  label: string;
  /** Values offered besides "all". */
  values: readonly string[];
}

export const ROLLOUT_FILTERS: readonly SelectFilter[] = [
  { param: "status", label: "Status", values: ["queuing", "running", "requeuing", "succeeded", "failed", "cancelled"] },
  { param: "mode", label: "Mode", values: ["train", "val", "test"] },
];

/** The chosen value of each filter ("" for all). */
export type FilterValues = Record<string, string>;

/** The query string for a page of rollouts under `values`, newest first. */
export function rolloutQuery(values: FilterValues, limit: number, cursor: string | undefined): string {
  const params = new URLSearchParams({ order: "desc", limit: String(limit) });
  for (const filter of ROLLOUT_FILTERS) {
    const value = values[filter.param];
    if (value) params.set(filter.param, value);
  }
  if (cursor !== undefined) params.set("cursor", cursor);
  return params.toString();
}

/** Whether a rollout with these fields passes the filters (for rows that arrive live). */
export function matches(values: FilterValues, fields: Record<string, string>): boolean {
  return ROLLOUT_FILTERS.every((filter) => !values[filter.param] || values[filter.param] === fields[filter.param]);
}
