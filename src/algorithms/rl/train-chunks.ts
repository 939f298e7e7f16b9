/**
 * Reassembling a step sent in parts (`TrainRequest.chunk`, `SuperviseRequest.chunk`): a backend
 * with `capabilities.chunked_train` holds the parts of one step, in order, and trains on the whole
 * batch when the last part arrives — the update is the same as if the step had come in one request.
 * Train and supervised steps share one step counter, so one assembler holds the parts of either:
 * while one step's parts are held, a part or a whole step of the other route is refused too.
 */
import { isDeepStrictEqual } from "node:util";
import { ValidationError } from "../../types/index.js";
import type { Hyperparameters, PolicyVersion, SuperviseRequest, TrainChunk, TrainRequest } from "./protocol.js";

/** What a part of a step leads to: hold it, or train on the whole step. */
export type ChunkOutcome<R = TrainRequest> = { pending: true } | { pending: false; request: R };

/** The fields every step request has, whichever route it came by. */
interface StepPart {
  step: number;
  policy_version: PolicyVersion;
  hyperparameters?: Hyperparameters | undefined;
  chunk?: TrainChunk | undefined;
}

type Route = "train" | "supervise";

/** The parts of one step received so far. */
interface Held<R extends StepPart> {
  route: Route;
  first: R;
  count: number;
  next: number;
  parts: R[];
}

/** Collects the parts of one step at a time; any inconsistency is refused naming the field, and the held parts are kept. */
export class TrainChunkAssembler {
  private held: Held<TrainRequest> | Held<SuperviseRequest> | undefined;

  /** The step whose parts are held, if any. */
  get pendingStep(): number | undefined {
    return this.held?.first.step;
  }

  /**
   * Takes a train request: a request without `chunk` is a whole step (refused while another step's
   * parts are held); a part is held until the last one, which returns the whole step (without `chunk`).
   */
  add(request: TrainRequest): ChunkOutcome<TrainRequest> {
    const held = this.held?.route === "train" ? (this.held as Held<TrainRequest>) : undefined;
    return this.accept("train", held, request, (first, parts) => ({ ...first, samples: parts.flatMap((p) => p.samples) }));
  }

  /** Takes a supervised request, as {@link add} a train request; the whole step joins the parts' token and chat samples. */
  addSupervised(request: SuperviseRequest): ChunkOutcome<SuperviseRequest> {
    const held = this.held?.route === "supervise" ? (this.held as Held<SuperviseRequest>) : undefined;
    return this.accept("supervise", held, request, (first, parts) => {
      const samples = parts.flatMap((p) => p.samples ?? []);
      const chat = parts.flatMap((p) => p.chat ?? []);
      const { samples: _samples, chat: _chat, ...rest } = first;
      return { ...rest, ...(samples.length > 0 ? { samples } : {}), ...(chat.length > 0 ? { chat } : {}) };
    });
  }

  /** Drops held parts (a restore makes them meaningless). */
  reset(): void {
    this.held = undefined;
  }

  private accept<R extends StepPart>(route: Route, sameRoute: Held<R> | undefined, request: R, join: (first: R, parts: R[]) => R): ChunkOutcome<R> {
    const what = `${route} request`;
    const { chunk } = request;
    const other = this.held !== undefined && this.held.route !== route ? this.held : undefined;
    if (other !== undefined) {
      refuse(what, "chunk", `step ${other.first.step} was sent by ${other.route} in ${other.count} parts and only ${other.next} arrived; send its part ${other.next} before another step`);
    }
    if (chunk === undefined) {
      if (sameRoute !== undefined) refuse(what, "chunk", `step ${sameRoute.first.step} was sent in ${sameRoute.count} parts and only ${sameRoute.next} arrived; send its part ${sameRoute.next} before another step`);
      return { pending: false, request };
    }
    let current: Held<R>;
    // A part 0 starts its step over: the sender re-split it (after a 413), so parts held from an
    // unfinished step are dropped.
    if (sameRoute === undefined || chunk.index === 0) {
      if (chunk.index !== 0) refuse(what, "chunk.index", `expected part 0 of step ${request.step} first, got part ${chunk.index} of ${chunk.count}`);
      current = { route, first: request, count: chunk.count, next: 1, parts: [request] };
    } else {
      checkPart(what, sameRoute, request);
      current = { ...sameRoute, next: sameRoute.next + 1, parts: [...sameRoute.parts, request] };
    }
    if (current.next < current.count) {
      this.held = current as Held<TrainRequest> | Held<SuperviseRequest>;
      return { pending: true };
    }
    this.held = undefined;
    const { chunk: _chunk, ...whole } = current.first;
    return { pending: false, request: join(whole as R, current.parts) };
  }
}

function checkPart<R extends StepPart>(what: string, held: Held<R>, part: R): void {
  const { first, count, next } = held;
  const chunk = part.chunk!;
  if (part.step !== first.step) refuse(what, "step", `parts of step ${first.step} are held (${next} of ${count}); got a part of step ${part.step}`);
  if (chunk.count !== count) refuse(what, "chunk.count", `step ${first.step} was announced in ${count} parts, this part says ${chunk.count}`);
  if (chunk.index !== next) refuse(what, "chunk.index", `expected part ${next} of step ${first.step}, got part ${chunk.index}`);
  if (part.policy_version !== first.policy_version) refuse(what, "policy_version", `part 0 of step ${first.step} said policy version ${first.policy_version}, this part says ${part.policy_version}`);
  if (part.hyperparameters !== undefined && !isDeepStrictEqual(part.hyperparameters, first.hyperparameters)) {
    refuse(what, "hyperparameters", `a step's parts must carry the same hyperparameters as its part 0 (or none)`);
  }
}

function refuse(what: string, path: string, message: string): never {
  throw new ValidationError(what, [{ path, message }]);
}
