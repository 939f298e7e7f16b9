/**
 * The sender's side of chunked steps: a step goes whole; when the backend refuses it as too large
 * (413) and takes chunked steps, it goes again in 2, 4, 8… chunks (token weights stay those of
 * the whole step), starting over from chunk 0 with each split — the receiver drops parts of an
 * unfinished step when a new part 0 arrives. Shared by RL's `train` and SFT's `supervise` steps.
 */
import { type Logger, TracetrainError } from "../../types/index.js";
import { BackendError } from "./backend-errors.js";
import type { ParsedBackendInfo, SuperviseChatSample, SuperviseRequest, SuperviseSample, TrainChunk, TrainResponse } from "./protocol.js";
import type { TrainingBackend } from "./training-backend.js";

export interface ChunkedStep<T> {
  step: number;
  /** The step's samples, in order: each chunk carries a contiguous slice of them. */
  items: readonly T[];
  /** Sends one request: the whole step (`chunk` undefined) or one part. */
  send(part: T[], chunk: TrainChunk | undefined): Promise<TrainResponse>;
  /** `capabilities.chunked_train`: without it a 413 is final. */
  chunkedTrain: boolean;
  logger: Logger;
  /** Who is sending, for messages ("RL", "SFT"). */
  sender: string;
  /** What the sender's user can change to make a step smaller (ends the message of a final 413). */
  smaller: string;
}

/** Sends a step, splitting it further after each 413; resolves with the last answer and the number of requests. */
export async function sendStepInChunks<T>(step: ChunkedStep<T>): Promise<{ response: TrainResponse; chunks: number }> {
  const { items } = step;
  for (let count = 1; ; count *= 2) {
    count = Math.min(count, items.length);
    try {
      if (count === 1) return { response: await step.send([...items], undefined), chunks: 1 };
      return { response: await sendParts(step, count), chunks: count };
    } catch (error) {
      if (!(error instanceof BackendError && error.code === "payload_too_large")) throw error;
      if (!step.chunkedTrain) {
        throw new TracetrainError(
          "payload_too_large",
          `the backend refused step ${step.step} (${items.length} samples) as too large and does not take chunked steps (capabilities.chunked_train): ${step.smaller}, or raise the backend's request size limit`,
          { step: step.step, samples: items.length },
          { cause: error },
        );
      }
      if (count === items.length) {
        throw new TracetrainError("payload_too_large", `the backend refused a single sample of step ${step.step} as too large: raise its request size limit or shorten the agent's trajectories`, { step: step.step }, { cause: error });
      }
      step.logger.warn(`${step.sender}: the backend refused step ${step.step} in ${count} request(s) as too large; sending it in ${Math.min(count * 2, items.length)} chunks`);
    }
  }
}

async function sendParts<T>(step: ChunkedStep<T>, count: number): Promise<TrainResponse> {
  const size = Math.ceil(step.items.length / count);
  let response: TrainResponse | undefined;
  for (let index = 0; index < count; index++) {
    response = await step.send(step.items.slice(index * size, (index + 1) * size), { index, count });
  }
  return response!;
}

type SuperviseItem = { tokens: SuperviseSample } | { chat: SuperviseChatSample };

/**
 * One supervised step through `backend.supervise`, split into chunks after a 413 as
 * {@link sendStepInChunks} does; token samples and chat samples keep their order within each kind.
 * The request's own `chunk` must be absent: the split is this function's.
 */
export async function superviseInChunks(
  backend: TrainingBackend,
  info: ParsedBackendInfo,
  request: Omit<SuperviseRequest, "chunk">,
  options: { signal?: AbortSignal; logger: Logger; sender: string; smaller: string },
): Promise<{ response: TrainResponse; chunks: number }> {
  const supervise = backend.supervise?.bind(backend);
  if (supervise === undefined) throw new TracetrainError("not_supported", `${options.sender}: this backend has no supervise() method: it cannot take supervised steps`);
  const { samples, chat, ...base } = request;
  const items: SuperviseItem[] = [...(samples ?? []).map((tokens) => ({ tokens })), ...(chat ?? []).map((c) => ({ chat: c }))];
  return sendStepInChunks({
    step: request.step,
    items,
    chunkedTrain: info.capabilities.chunked_train,
    logger: options.logger,
    sender: options.sender,
    smaller: options.smaller,
    send: (part, chunk) => supervise({ ...base, ...splitItems(part), ...(chunk === undefined ? {} : { chunk }) }, options.signal === undefined ? {} : { signal: options.signal }),
  });
}

function splitItems(items: readonly SuperviseItem[]): Pick<SuperviseRequest, "samples" | "chat"> {
  const samples = items.flatMap((i) => ("tokens" in i ? [i.tokens] : []));
  const chat = items.flatMap((i) => ("chat" in i ? [i.chat] : []));
  return { ...(samples.length > 0 ? { samples } : {}), ...(chat.length > 0 ? { chat } : {}) };
}
