/**
 * In-flight substitution at the gateway: a call of a rollout whose resources snapshot carries
 * `tracetrain.substitutions` goes upstream with the candidate's texts in place of the seed texts,
 * exactly as the in-process tracer would send it (one `Substituter` for both). Snapshots never
 * change, so each is read from the store once.
 */
import type { Store } from "../store/index.js";
import { Substituter } from "../tracer/index.js";
import { TracetrainError, substitutionsOf } from "../types/index.js";

/** How many snapshots' substitutions are kept; a run uses a few dozen candidates at a time. */
const MAX_CACHED = 256;

export class SubstitutionDirectory {
  private readonly cache = new Map<string, Promise<Substituter | undefined>>();

  constructor(private readonly store: Store) {}

  /** The substitutions of snapshot `resourcesId` (undefined when it has none). */
  forSnapshot(resourcesId: string | null): Promise<Substituter | undefined> {
    if (resourcesId === null) return Promise.resolve(undefined);
    let pending = this.cache.get(resourcesId);
    if (!pending) {
      pending = this.load(resourcesId);
      // A failed read is retried by the next call rather than remembered.
      pending.catch(() => this.cache.delete(resourcesId));
      if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(resourcesId, pending);
    }
    return pending;
  }

  private async load(resourcesId: string): Promise<Substituter | undefined> {
    const snapshot = await this.store.getResources(resourcesId);
    try {
      const substitutions = substitutionsOf(snapshot.resources);
      return substitutions.length === 0 ? undefined : new Substituter(substitutions);
    } catch (error) {
      // Not the agent's mistake (a 400 would say so): the snapshot it runs with is unusable.
      throw new TracetrainError("unavailable", `resources '${resourcesId}' of this rollout cannot be applied: ${error instanceof Error ? error.message : String(error)}`, { resourcesId }, { cause: error });
    }
  }
}
