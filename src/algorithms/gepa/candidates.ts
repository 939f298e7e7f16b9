/**
 * GEPA's candidates: maps of named resources, each published as a resources snapshot
 * `<runId>.<candidateId>` that records — in one extra JSON resource, `tracetrain.gepa` — its
 * lineage: its parents, the component that changed, and the feedback that caused the change (the
 * minibatch runs the reflection model read, and their mean reward).
 */
import { z } from "zod";
import type { Store } from "../../store/index.js";
import { ConflictError, NotFoundError, TracetrainError, type PromptTemplateResource, type ResourcesMap, type ResourcesSnapshot } from "../../types/index.js";
import type { MeteredCall } from "../optimizer.js";
import { withSubstitutions } from "../substitutions.js";

/** The resource name under which a candidate snapshot records its lineage. Agents can ignore it. */
export const LINEAGE_RESOURCE = "tracetrain.gepa";

export const SEED_ID = "seed";

/** Longest feedback text kept in a candidate's lineage: enough to tell why, not the whole dataset. */
const MAX_FEEDBACK_CHARS = 4000;

const LineageSchema = z.object({
  runId: z.string(),
  candidate: z.string(),
  /** One parent for a reflective mutation (two for a merge, later). */
  parents: z.array(z.string()),
  /** The component this candidate changed ("" for the seed). */
  component: z.string(),
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
 * The run's starting point, stored as `<runId>.seed`. Resuming a GEPA run is not built yet, so a
 * runId the store already holds is refused rather than mixed with a new run's candidates.
 */
export async function publishSeed(store: Store, runId: string, initial: ResourcesSnapshot): Promise<Candidate> {
  if (await exists(store, snapshotId(runId, SEED_ID))) {
    throw new ConflictError(`GEPA run '${runId}' already exists in the store, and resuming a GEPA run is not supported yet: choose another runId`, { runId });
  }
  const lineage: Lineage = { runId, candidate: SEED_ID, parents: [], component: "", feedback: null, calls: [] };
  return publish(store, initial.resources, lineage);
}

/** Publishes the child of `parent` whose `component` template reads `template`. */
export function publishChild(
  store: Store,
  parent: Candidate,
  child: { id: string; component: string; template: string; feedback: { rollouts: string[]; score: number; text: string }; calls: MeteredCall[] },
): Promise<Candidate> {
  const feedback = { ...child.feedback, text: clip(child.feedback.text) };
  const lineage: Lineage = { runId: parent.lineage.runId, candidate: child.id, parents: [parent.id], component: child.component, feedback, calls: child.calls };
  return publish(store, withSubstitutions(parent.resources, { ...parent.resources, [child.component]: { ...templateOf(parent, child.component), template: child.template } }), lineage);
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

export function snapshotId(runId: string, candidateId: string): string {
  return `${runId}.${candidateId}`;
}

async function exists(store: Store, resourcesId: string): Promise<boolean> {
  try {
    await store.getResources(resourcesId);
    return true;
  } catch (error) {
    if (error instanceof NotFoundError) return false;
    throw error;
  }
}

function clip(text: string): string {
  return text.length <= MAX_FEEDBACK_CHARS ? text : `${text.slice(0, MAX_FEEDBACK_CHARS)}… (${text.length - MAX_FEEDBACK_CHARS} more characters)`;
}
