/**
 * The rollouts table's token cells: what each ended rollout's latest attempt spent, read from
 * `GET /v1/tokens` for the rows shown (one request per page). A rollout still running is not read:
 * its figures would change under the reader.
 */
import type { Api } from "./api.js";
import type { Rollout, TokenFiguresData } from "./records.js";
import { tokensLine } from "./tokens.js";

const ENDED = new Set(["succeeded", "failed", "cancelled"]);

export interface TokenCell {
  text: string;
  title: string | undefined;
}

export class TokenCells {
  /** By attempt: an ended attempt's figures never change. */
  private readonly known = new Map<string, { tokens: TokenFiguresData } | { error: string }>();

  constructor(private readonly api: Api) {}

  of(rollout: Rollout): TokenCell {
    const attempt = rollout.attempts.at(-1);
    if (attempt === undefined) return { text: "—", title: "not started" };
    if (!ENDED.has(rollout.status)) return { text: "…", title: "counted when the rollout ends" };
    const known = this.known.get(attempt.attemptId);
    if (known === undefined) return { text: "…", title: "loading" };
    if ("error" in known) return { text: "?", title: known.error };
    return { text: String(known.tokens.total), title: tokensLine(known.tokens) };
  }

  /** Reads the figures the rows lack; true when something new is known (the rows should be redrawn). */
  async load(rollouts: readonly Rollout[]): Promise<boolean> {
    const wanted = rollouts.filter((r) => ENDED.has(r.status) && r.attempts.length > 0 && !this.known.has(r.attempts.at(-1)!.attemptId));
    if (wanted.length === 0) return false;
    try {
      const body = await this.api.get<{ items: Array<{ rolloutId: string; attemptId: string; tokens: TokenFiguresData }> }>(`/v1/tokens?${new URLSearchParams({ rollouts: wanted.map((r) => r.rolloutId).join(",") })}`);
      for (const item of body.items) this.known.set(item.attemptId, { tokens: item.tokens });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      for (const r of wanted) this.known.set(r.attempts.at(-1)!.attemptId, { error: `could not read its tokens: ${message}` });
    }
    return true;
  }
}
