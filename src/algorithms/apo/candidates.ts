/**
 * Prompt candidates and how they live in the store. Every candidate is a resources snapshot with a
 * stable id (`<runId>.<candidateId>`), carrying — in one extra JSON resource, `tracetrain.apo` —
 * where it came from: parent, round, edited template, the critique behind it and what its
 * optimizer calls cost. That makes a run resumable: a candidate already in the store is read
 * back instead of asking the optimizer again.
 */
import { z } from "zod";
import type { Store } from "../../store/index.js";
import type { MeteredCall } from "../optimizer.js";
import { withSubstitutions } from "../substitutions.js";
import { ConflictError, TracetrainError, type PromptTemplateResource, type ResourcesMap, type ResourcesSnapshot } from "../../types/index.js";
import { checkSameStart, findSnapshot, snapshotId } from "../snapshots.js";

/** The resource name under which a candidate snapshot records its origin. Agents can ignore it. */
export const CANDIDATE_RESOURCE = "tracetrain.apo";

/** The seed candidate's id: the resources the run started from. */
export const SEED_ID = "seed";

const OptimizerCallSchema = z.object({ model: z.string(), inputTokens: z.number(), outputTokens: z.number() }) satisfies z.ZodType<MeteredCall>;

const OriginSchema = z.object({
  runId: z.string(),
  candidate: z.string(),
  parent: z.string(),
  round: z.number().int(),
  target: z.string(),
  critique: z.string(),
  calls: z.array(OptimizerCallSchema),
});
type Origin = z.infer<typeof OriginSchema>;

export interface Candidate {
  /** `seed`, or `r<round>.<slot>` for a child made in that round. */
  id: string;
  /** The snapshot rollouts of this candidate run with. */
  resourcesId: string;
  /** The agent's resources (without the origin record). */
  resources: ResourcesMap;
  parentId: string | null;
  round: number;
  /** The template this candidate changed from its parent. */
  target: string | null;
  critique: string | null;
  /** The optimizer calls that made it (replayed into the budget when a resumed run reuses it). */
  calls: MeteredCall[];
}

/**
 * The run's starting point, stored as `<runId>.seed`. A resumed run finds it there and must have
 * been given the same resources: its stored candidates and scores were measured with them.
 */
export async function seedCandidate(store: Store, runId: string, initial: ResourcesSnapshot): Promise<Candidate> {
  const found = await findSnapshot(store, snapshotId(runId, SEED_ID));
  if (found) checkSameStart("APO", runId, withoutOrigin(found.resources), initial.resources);
  const origin: Origin = { runId, candidate: SEED_ID, parent: "", round: 0, target: "", critique: "", calls: [] };
  const snapshot = found ?? (await store.addResources({ ...initial.resources, [CANDIDATE_RESOURCE]: { kind: "json", value: origin } }, { resourcesId: snapshotId(runId, SEED_ID) }));
  return { id: SEED_ID, resourcesId: snapshot.resourcesId, resources: withoutOrigin(snapshot.resources), parentId: null, round: 0, target: null, critique: null, calls: [] };
}

/** The prompt template `name` of a candidate. */
export function templateOf(candidate: Candidate, name: string): PromptTemplateResource {
  const resource = candidate.resources[name];
  // Targets are checked against the seed, and every candidate descends from it: this is a bug, not a user error.
  if (resource?.kind !== "prompt_template") throw new TracetrainError("internal", `candidate ${candidate.id} has no prompt template '${name}'`);
  return resource;
}

/** A candidate made by an earlier (interrupted) run with this id, if the store has it. */
export async function findCandidate(store: Store, runId: string, id: string): Promise<Candidate | undefined> {
  const snapshot = await findSnapshot(store, snapshotId(runId, id));
  if (!snapshot) return undefined;
  const origin = OriginSchema.safeParse(snapshot.resources[CANDIDATE_RESOURCE]?.kind === "json" ? snapshot.resources[CANDIDATE_RESOURCE].value : undefined);
  // A snapshot with this id that APO did not write is not ours to reuse.
  if (!origin.success || origin.data.runId !== runId || origin.data.candidate !== id) {
    throw new ConflictError(`resources '${snapshotId(runId, id)}' exist but were not written by APO run '${runId}': choose another runId`, {
      runId,
      resourcesId: snapshotId(runId, id),
    });
  }
  return fromOrigin(snapshot, origin.data);
}

/** Publishes a child made from `parent` by replacing template `target`. */
export async function publishCandidate(
  store: Store,
  runId: string,
  child: { id: string; round: number; target: string; template: string; critique: string; calls: MeteredCall[] },
  parent: Candidate,
): Promise<Candidate> {
  const origin: Origin = { runId, candidate: child.id, parent: parent.id, round: child.round, target: child.target, critique: child.critique, calls: child.calls };
  const resources = withSubstitutions(parent.resources, childResources(parent, child.target, child.template));
  const snapshot = await store.addResources({ ...resources, [CANDIDATE_RESOURCE]: { kind: "json", value: origin } }, { resourcesId: snapshotId(runId, child.id) });
  return fromOrigin(snapshot, origin);
}

/** The parent's resources with template `target` replaced. */
export function childResources(parent: Candidate, target: string, template: string): ResourcesMap {
  return { ...parent.resources, [target]: { ...templateOf(parent, target), template } };
}

function fromOrigin(snapshot: ResourcesSnapshot, origin: Origin): Candidate {
  return {
    id: origin.candidate,
    resourcesId: snapshot.resourcesId,
    resources: withoutOrigin(snapshot.resources),
    parentId: origin.parent,
    round: origin.round,
    target: origin.target,
    critique: origin.critique,
    calls: origin.calls,
  };
}


function withoutOrigin(resources: ResourcesMap): ResourcesMap {
  const { [CANDIDATE_RESOURCE]: _origin, ...rest } = resources;
  return rest;
}
