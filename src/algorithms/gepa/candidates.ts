/**
 * GEPA's candidates: maps of named resources, each published as a resources snapshot
 * `<runId>.<candidateId>` that records — in one extra JSON resource, `tracetrain.gepa` — its
 * lineage: its parents, the component that changed and the feedback that caused the change (the
 * minibatch runs the reflection model read, and their mean reward), or, for a merge, which parent
 * each component came from. A resumed run reads its candidates back instead of asking again.
 */
import { z } from "zod";
import type { Store } from "../../store/index.js";
import { ConflictError, TracetrainError, type PromptTemplateResource, type ResourcesMap, type ResourcesSnapshot } from "../../types/index.js";
import type { MeteredCall } from "../optimizer.js";
import { checkSameStart, findSnapshot, snapshotId } from "../snapshots.js";
import { withSubstitutions } from "../substitutions.js";

/** The resource name under which a candidate snapshot records its lineage. Agents can ignore it. */
export const LINEAGE_RESOURCE = "tracetrain.gepa";

export const SEED_ID = "seed";

/** Longest feedback text kept in a candidate's lineage: enough to tell why, not the whole dataset. */
const MAX_FEEDBACK_CHARS = 4000;

const LineageSchema = z.object({
  runId: z.string(),
  candidate: z.string(),
  /** How it was made: the seed, a reflective rewrite of one component, or a merge of two candidates. */
  kind: z.enum(["seed", "reflection", "merge"]),
  /** One parent for a reflective rewrite, two for a merge. */
  parents: z.array(z.string()),
  /** The component this candidate changed ("" for the seed and merges). */
  component: z.string(),
  /** A merge: the parent each component was taken from (null otherwise). */
  merged: z.record(z.string(), z.string()).nullable(),
  /** What caused the change: the minibatch rollouts the reflection read, their mean reward, and what it read (clipped). */
  feedback: z.object({ rollouts: z.array(z.string()), score: z.number(), text: z.string() }).nullable(),
  calls: z.array(z.object({ model: z.string(), inputTokens: z.number(), outputTokens: z.number() })),
});
export type Lineage = z.infer<typeof LineageSchema>;

export interface Candidate {
  id: string;
  resourcesId: string;
  /** The agent's resources, without the lineage record. */
  resources: ResourcesMap;
  lineage: Lineage;
}

/**
 * The run's starting point, stored as `<runId>.seed`. A resumed run finds it there, and must have
 * been given the same resources.
 */
export async function publishSeed(store: Store, runId: string, initial: ResourcesSnapshot): Promise<{ seed: Candidate; resumed: boolean }> {
  const found = await findCandidate(store, runId, SEED_ID);
  if (found) {
    checkSameStart("GEPA", runId, found.resources, initial.resources);
    return { seed: found, resumed: true };
  }
  const lineage: Lineage = { runId, candidate: SEED_ID, kind: "seed", parents: [], component: "", merged: null, feedback: null, calls: [] };
  return { seed: await publish(store, initial.resources, lineage), resumed: false };
}

/** Publishes the child of `parent` whose `component` template reads `template`. */
export function publishChild(
  store: Store,
  parent: Candidate,
  child: { id: string; component: string; template: string; feedback: { rollouts: string[]; score: number; text: string }; calls: MeteredCall[] },
): Promise<Candidate> {
  const feedback = { ...child.feedback, text: clip(child.feedback.text) };
  const lineage: Lineage = { runId: parent.lineage.runId, candidate: child.id, kind: "reflection", parents: [parent.id], component: child.component, merged: null, feedback, calls: child.calls };
  return publish(store, withSubstitutions(parent.resources, { ...parent.resources, [child.component]: { ...templateOf(parent, child.component), template: child.template } }), lineage);
}

/**
 * Publishes a merge: `resources` combines its two parents' components as `merged` says (made from
 * `base`, the stronger parent, whose substitutions record the seed's texts).
 */
export function publishMerge(store: Store, runId: string, base: Candidate, child: { id: string; parents: [string, string]; resources: ResourcesMap; merged: Record<string, string> }): Promise<Candidate> {
  const lineage: Lineage = { runId, candidate: child.id, kind: "merge", parents: child.parents, component: "", merged: child.merged, feedback: null, calls: [] };
  return publish(store, withSubstitutions(base.resources, child.resources), lineage);
}

/**
 * The candidate `<runId>.<id>` an earlier run of this runId published, if any. A snapshot under
 * that id that GEPA did not write for this run is refused: it is not ours to reuse.
 */
export async function findCandidate(store: Store, runId: string, id: string): Promise<Candidate | undefined> {
  const snapshot = await findSnapshot(store, snapshotId(runId, id));
  if (!snapshot) return undefined;
  const resource = snapshot.resources[LINEAGE_RESOURCE];
  const lineage = LineageSchema.safeParse(resource?.kind === "json" ? resource.value : undefined);
  if (!lineage.success || lineage.data.runId !== runId || lineage.data.candidate !== id) {
    throw new ConflictError(`resources '${snapshotId(runId, id)}' exist but were not written by GEPA run '${runId}': choose another runId`, { runId, resourcesId: snapshotId(runId, id) });
  }
  const { [LINEAGE_RESOURCE]: _lineage, ...rest } = snapshot.resources;
  return { id, resourcesId: snapshot.resourcesId, resources: rest, lineage: lineage.data };
}

async function publish(store: Store, resources: ResourcesMap, lineage: Lineage): Promise<Candidate> {
  const checked = LineageSchema.parse(lineage);
  const snapshot = await store.addResources({ ...resources, [LINEAGE_RESOURCE]: { kind: "json", value: checked } }, { resourcesId: snapshotId(lineage.runId, lineage.candidate) });
  const { [LINEAGE_RESOURCE]: _lineage, ...rest } = snapshot.resources;
  return { id: lineage.candidate, resourcesId: snapshot.resourcesId, resources: rest, lineage: checked };
}

/** The prompt template `name` of a candidate. */
export function templateOf(candidate: Pick<Candidate, "id" | "resources">, name: string): PromptTemplateResource {
  const resource = candidate.resources[name];
  // Components are checked against the seed and every candidate descends from it: a bug, not a user error.
  if (resource?.kind !== "prompt_template") throw new TracetrainError("internal", `candidate ${candidate.id} has no prompt template '${name}'`);
  return resource;
}

/** The candidate's evolvable components as one key, to spot a proposal that recreates a known candidate. */
export function fingerprint(candidate: Pick<Candidate, "id" | "resources">, components: readonly string[]): string {
  return JSON.stringify(components.map((name) => templateOf(candidate, name).template));
}


/** Feedback text as a lineage keeps it: clipped to its first {@link MAX_FEEDBACK_CHARS} characters. */
export function clip(text: string): string {
  return text.length <= MAX_FEEDBACK_CHARS ? text : `${text.slice(0, MAX_FEEDBACK_CHARS)}… (${text.length - MAX_FEEDBACK_CHARS} more characters)`;
}
