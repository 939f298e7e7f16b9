/**
 * Reading back an optimizer run's snapshots (APO's and GEPA's candidates): a resumed run finds
 * what an earlier run of the same runId published, and must have started from the same resources.
 */
import type { Store } from "../store/index.js";
import { canonicalJson, ConflictError, NotFoundError, type ResourcesMap, type ResourcesSnapshot } from "../types/index.js";

/** The id of candidate `candidateId`'s snapshot in optimizer run `runId`. */
export function snapshotId(runId: string, candidateId: string): string {
  return `${runId}.${candidateId}`;
}

/** The snapshot `resourcesId`, or undefined when the store has none. */
export async function findSnapshot(store: Store, resourcesId: string): Promise<ResourcesSnapshot | undefined> {
  try {
    return await store.getResources(resourcesId);
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

/** Names of the resources that differ between `a` and `b` (added, removed or changed). */
export function changedResources(a: ResourcesMap, b: ResourcesMap): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((name) => canonicalJson(a[name] ?? null) !== canonicalJson(b[name] ?? null));
}

/** The prompt templates whose text differs from `before` to `after`, with both texts: what a candidate changed against its parent. */
export function templateEdits(before: ResourcesMap, after: ResourcesMap): Array<{ component: string; before: string; after: string }> {
  return changedResources(before, after).flatMap((component) => {
    const was = before[component];
    const now = after[component];
    if (was?.kind !== "prompt_template" || now?.kind !== "prompt_template" || was.template === now.template) return [];
    return [{ component, before: was.template, after: now.template }];
  });
}

/**
 * Refuses to resume `algorithm` run `runId` with other starting resources than it was started
 * with: its stored candidates and scores were measured from those.
 */
export function checkSameStart(algorithm: string, runId: string, stored: ResourcesMap, given: ResourcesMap): void {
  const changed = changedResources(stored, given);
  if (changed.length === 0) return;
  throw new ConflictError(
    `${algorithm} run '${runId}' started with other resources than the trainer gives now (${changed.join(", ")} changed): resume it with the same initialResources, or start a new run with another runId`,
    { runId, changed },
  );
}
