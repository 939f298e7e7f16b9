/**
 * SFT's supervised samples from the rollouts it kept, through the adapters: exact token samples
 * (the adapters' merged samples, whose response mask is the loss mask: what the model wrote is
 * learnt, what was inserted between its calls is not), or chat samples (the adapters' fine-tuning
 * records, rendered by the backend) when calls lack token ids — a teacher's — or the backend only
 * takes chat. Every kept rollout weighs the same in the loss however long it is or how its calls
 * merged: its trained tokens share 1 / (rollouts kept).
 */
import { contextFromRollout } from "../../adapters/index.js";
import type { TraceAdapter } from "../../adapters/index.js";
import type { Store } from "../../store/index.js";
import { spansOf } from "../../store/index.js";
import { ValidationError, parseOrThrow } from "../../types/index.js";
import { type KeptRollout, type ParsedBackendInfo, type SuperviseChatSample, SuperviseChatSampleSchema, type SuperviseSample, trainedTokenCount, trainedTokensOf } from "../rl/index.js";
import type { ParsedSFTOptions } from "./options.js";

export type SampleKind = "tokens" | "chat";

/** Selected calls of these rollouts recorded without token ids. */
export function textOnlyCalls(kept: readonly KeptRollout[]): number {
  return kept.reduce((sum, k) => sum + k.adapted.diagnostics.reduce((n, d) => n + d.callsSelected - d.callsWithTokenIds, 0), 0);
}

/**
 * Token samples when every kept call has token ids and the backend takes them (or the `samples`
 * option says so), else chat samples; a form the backend cannot take is refused naming the option.
 */
export function sampleKindOf(kept: readonly KeptRollout[], mode: ParsedSFTOptions["samples"], capabilities: ParsedBackendInfo["capabilities"]): SampleKind {
  const missingIds = textOnlyCalls(kept);
  const refuse = (message: string): never => {
    throw new ValidationError("SFT options", [{ path: "samples", message }]);
  };
  if (mode === "tokens" || (mode === "auto" && missingIds === 0 && capabilities.supervised)) {
    if (!capabilities.supervised) refuse("the backend does not take token samples (info().capabilities.supervised is false): use samples 'chat' or 'auto'");
    if (missingIds > 0) refuse(`${missingIds} selected call(s) of the kept rollouts have no token ids (a teacher's calls, or an engine that does not return them): token samples cannot hold them; use samples 'chat' or 'auto'`);
    return "tokens";
  }
  if (!capabilities.supervised_chat) {
    refuse(
      missingIds > 0
        ? `${missingIds} selected call(s) have no token ids, so they can only be sent as chat samples, and the backend does not take those (info().capabilities.supervised_chat is false)`
        : "the backend takes neither token samples nor chat samples (info().capabilities.supervised and supervised_chat are false)",
    );
  }
  return "chat";
}

/** The kept rollouts' merged token samples; each mask-1 token weighs 1 / (its rollout's mask-1 tokens × rollouts kept). */
export function tokenSamples(kept: readonly KeptRollout[]): SuperviseSample[] {
  const trained = kept.filter((k) => trainedTokensOf(k) > 0);
  return trained.flatMap((k) => {
    const weight = 1 / (trainedTokensOf(k) * trained.length);
    return k.adapted.samples
      .filter((s) => trainedTokenCount(s.responseMask) > 0)
      .map((s): SuperviseSample => ({ rollout_id: k.rollout.rolloutId, prompt_ids: s.promptIds, response_ids: s.responseIds, loss_mask: s.responseMask, token_weight: weight, reward: k.reward }));
  });
}


/** The kept rollouts' chat records (per conversation, the selected agents' calls); a rollout's records share its 1 / (rollouts kept). */
export async function chatSamples(store: Store, adapter: TraceAdapter, kept: readonly KeptRollout[]): Promise<SuperviseChatSample[]> {
  const perRollout = await Promise.all(
    kept.map(async (k) => {
      const attempt = k.rollout.attempts.at(-1);
      if (attempt === undefined) return [];
      const spans = await spansOf(store, k.rollout.rolloutId, attempt.attemptId);
      return adapter.toChatSamples(spans, contextFromRollout(k.rollout)).map((c) => ({ k, record: c.record }));
    }),
  );
  const rollouts = perRollout.filter((records) => records.length > 0).length;
  return perRollout.flatMap((records) =>
    records.map(({ k, record }) =>
      parseOrThrow(
        SuperviseChatSampleSchema,
        { rollout_id: k.rollout.rolloutId, messages: record.messages, ...(record.tools === undefined ? {} : { tools: record.tools }), weight: 1 / (rollouts * records.length), reward: k.reward },
        `chat sample of rollout ${k.rollout.rolloutId}`,
      ),
    ),
  );
}
