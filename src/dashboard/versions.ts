/**
 * The rollouts table's version cells. A rollout names the resources snapshot it ran with; the
 * snapshot gives the version number, and its `llm` resource the policy version it was published
 * with. That is not always the policy that answered: an RL run publishes one snapshot when it
 * starts and then updates the policy behind the same gateway, which records the version serving
 * each call on the call's span (`tracetrain.llm.policy_version`). So for a rollout whose snapshot
 * names a policy version, the version its latest attempt's calls recorded is shown, and the
 * snapshot's only until a call has recorded one.
 */
import type { Api } from "./api.js";
import type { Page, Resource, ResourcesSnapshot, Rollout, Span } from "./records.js";

const POLICY_VERSION = "tracetrain.llm.policy_version";
/** Spans read per attempt to find the recorded versions; an attempt's first calls come early. */
const SPAN_LIMIT = 1000;

/** What a cell shows, and its title (the longer explanation). */
export interface Cell {
  text: string;
  title: string | undefined;
}

export interface RowVersions {
  resources: Cell;
  policy: Cell;
}

type Outcome<T> = { value: T } | { error: string };

/** Snapshots never change: each is read once while the dashboard is open, whichever page asks. */
const snapshots = new Map<string, Outcome<ResourcesSnapshot>>();
/** Reads under way, so two pages (or two live updates) asking at once share one request. */
const reading = new Map<string, Promise<void>>();

export class Versions {
  /** By attempt, with the span count read: new spans of a running attempt have it read again. */
  private readonly recorded = new Map<string, { spanCount: number; versions: Outcome<Array<string | number>> }>();

  constructor(private readonly api: Api) {}

  /** The cells of `rollout` from what is known so far. */
  of(rollout: Rollout): RowVersions {
    if (rollout.resourcesId === null) return { resources: { text: "—", title: "created before the first resources snapshot" }, policy: { text: "—", title: undefined } };
    const snapshot = snapshots.get(rollout.resourcesId);
    if (snapshot === undefined) return { resources: { text: "…", title: rollout.resourcesId }, policy: { text: "…", title: undefined } };
    if ("error" in snapshot) return { resources: { text: "?", title: `${rollout.resourcesId}: ${snapshot.error}` }, policy: { text: "?", title: snapshot.error } };
    const resources = { text: `v${snapshot.value.version}`, title: snapshot.value.resourcesId };
    const published = publishedPolicy(snapshot.value);
    if (published === undefined) return { resources, policy: { text: "—", title: "its resources name no policy version" } };
    const last = rollout.attempts.at(-1);
    const calls = last === undefined ? undefined : this.recorded.get(last.attemptId)?.versions;
    if (calls === undefined || ("value" in calls && calls.value.length === 0)) {
      return { resources, policy: { text: String(published.version), title: `published with the resources (llm resource “${published.name}”); no call has recorded a version yet` } };
    }
    if ("error" in calls) return { resources, policy: { text: String(published.version), title: `published with the resources; its calls could not be read: ${calls.error}` } };
    return { resources, policy: { text: calls.value.join(", "), title: "recorded by the gateway on its latest attempt's LLM calls" } };
  }

  private read(resourcesId: string): Promise<void> {
    let read = reading.get(resourcesId);
    if (read === undefined) {
      read = outcome(this.api.get<ResourcesSnapshot>(`/v1/resources/${encodeURIComponent(resourcesId)}`)).then((result) => {
        snapshots.set(resourcesId, result);
        reading.delete(resourcesId);
      });
      reading.set(resourcesId, read);
    }
    return read;
  }

  /** Reads what the rows need and is not known yet; true when something new was learned. */
  async load(rollouts: readonly Rollout[]): Promise<boolean> {
    const ids = [...new Set(rollouts.flatMap((r) => (r.resourcesId === null || snapshots.has(r.resourcesId) ? [] : [r.resourcesId])))];
    await Promise.all(ids.map((id) => this.read(id)));
    const versioned = rollouts.filter((r) => {
      const snapshot = r.resourcesId === null ? undefined : snapshots.get(r.resourcesId);
      const last = r.attempts.at(-1);
      const stale = last !== undefined && last.spanCount > 0 && this.recorded.get(last.attemptId)?.spanCount !== last.spanCount;
      return stale && snapshot !== undefined && "value" in snapshot && publishedPolicy(snapshot.value) !== undefined;
    });
    await Promise.all(
      versioned.map(async (r) => {
        const last = r.attempts.at(-1)!;
        this.recorded.set(last.attemptId, { spanCount: last.spanCount, versions: await outcome(recordedVersions(this.api, r)) });
      }),
    );
    return ids.length + versioned.length > 0;
  }
}

/** The policy version the snapshot's first `llm` resource that names one was published with. */
function publishedPolicy(snapshot: ResourcesSnapshot): { name: string; version: string | number } | undefined {
  for (const [name, resource] of Object.entries(snapshot.resources) as Array<[string, Resource]>) {
    if (resource.kind === "llm" && resource.policyVersion !== undefined) return { name, version: resource.policyVersion };
  }
  return undefined;
}

/** The distinct policy versions the latest attempt's calls recorded, in the order of the calls. */
async function recordedVersions(api: Api, rollout: Rollout): Promise<Array<string | number>> {
  const attempt = rollout.attempts.at(-1)!;
  const query = new URLSearchParams({ attemptId: attempt.attemptId, limit: String(SPAN_LIMIT) });
  const page = await api.get<Page<Span>>(`/v1/rollouts/${encodeURIComponent(rollout.rolloutId)}/spans?${query}`);
  const versions: Array<string | number> = [];
  for (const span of page.items) {
    const version = span.attributes[POLICY_VERSION];
    if ((typeof version === "string" || typeof version === "number") && !versions.includes(version)) versions.push(version);
  }
  return versions;
}

async function outcome<T>(promise: Promise<T>): Promise<Outcome<T>> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}
