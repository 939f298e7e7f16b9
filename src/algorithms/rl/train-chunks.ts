/**
 * Reassembling a step sent in parts (`TrainRequest.chunk`): a backend with
 * `capabilities.chunked_train` holds the parts of one step, in order, and trains on the whole
 * batch when the last part arrives — the update is the same as if the step had come in one request.
 */
import { isDeepStrictEqual } from "node:util";
import { ValidationError } from "../../types/index.js";
import type { TrainRequest, TrainSample } from "./protocol.js";

/** What a part of a step leads to: hold it, or train on the whole step. */
export type ChunkOutcome = { pending: true } | { pending: false; request: TrainRequest };

/** Collects the parts of one step at a time; any inconsistency is refused naming the field, and the held parts are kept. */
export class TrainChunkAssembler {
  private held: { first: TrainRequest; count: number; samples: TrainSample[]; next: number } | undefined;

  /** The step whose parts are held, if any. */
  get pendingStep(): number | undefined {
    return this.held?.first.step;
  }

  /**
   * Takes a request: a request without `chunk` is a whole step (refused while another step's parts
   * are held); a part is held until the last one, which returns the whole step (without `chunk`).
   */
  add(request: TrainRequest): ChunkOutcome {
    const { chunk } = request;
    const held = this.held;
    if (chunk === undefined) {
      if (held !== undefined) refuse("chunk", `step ${held.first.step} was sent in ${held.count} parts and only ${held.next} arrived; send its part ${held.next} before another step`);
      return { pending: false, request };
    }
    // A part 0 starts its step over: the sender re-split it (after a 413), so parts held from an
    // unfinished step are dropped.
    if (held === undefined || chunk.index === 0) {
      if (chunk.index !== 0) refuse("chunk.index", `expected part 0 of step ${request.step} first, got part ${chunk.index} of ${chunk.count}`);
      this.held = { first: request, count: chunk.count, samples: [...request.samples], next: 1 };
    } else {
      checkPart(held.first, held.count, held.next, request);
      held.samples.push(...request.samples);
      held.next++;
    }
    const current = this.held!;
    if (current.next < current.count) return { pending: true };
    this.held = undefined;
    const { chunk: _chunk, ...whole } = current.first;
    return { pending: false, request: { ...whole, samples: current.samples } };
  }

  /** Drops held parts (a restore makes them meaningless). */
  reset(): void {
    this.held = undefined;
  }
}

function checkPart(first: TrainRequest, count: number, next: number, part: TrainRequest): void {
  const chunk = part.chunk!;
  if (part.step !== first.step) refuse("step", `parts of step ${first.step} are held (${next} of ${count}); got a part of step ${part.step}`);
  if (chunk.count !== count) refuse("chunk.count", `step ${first.step} was announced in ${count} parts, this part says ${chunk.count}`);
  if (chunk.index !== next) refuse("chunk.index", `expected part ${next} of step ${first.step}, got part ${chunk.index}`);
  if (part.policy_version !== first.policy_version) refuse("policy_version", `part 0 of step ${first.step} said policy version ${first.policy_version}, this part says ${part.policy_version}`);
  if (part.hyperparameters !== undefined && !isDeepStrictEqual(part.hyperparameters, first.hyperparameters)) {
    refuse("hyperparameters", `a step's parts must carry the same hyperparameters as its part 0 (or none)`);
  }
}

function refuse(path: string, message: string): never {
  throw new ValidationError("train request", [{ path, message }]);
}
