/**
 * The upstream of the gateway benchmark, run in its own process: an OpenAI-compatible chat
 * completions server that answers every call at once with a fixed answer — 40 generated tokens,
 * vLLM's prompt and response token ids and logprobs when asked for — whole or streamed. It costs
 * next to nothing, so the benchmark measures the gateway, not a model.
 *
 * Prints `{"url": …}` once listening; exits cleanly on SIGTERM.
 */
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";

const TOKENS = 40;
const PROMPT_IDS = Array.from({ length: 300 }, (_, i) => 1000 + i);
const IDS = Array.from({ length: TOKENS }, (_, i) => 2000 + i);
const WORDS = IDS.map((_, i) => `w${i} `);
const logprob = (i: number) => ({ token: WORDS[i], logprob: -0.01 * (i + 1), bytes: [...Buffer.from(WORDS[i]!)], top_logprobs: [] });

function whole(tokenIds: boolean, logprobs: boolean): string {
  return JSON.stringify({
    id: "chatcmpl-bench",
    object: "chat.completion",
    created: 1_700_000_000,
    model: "bench",
    ...(tokenIds ? { prompt_token_ids: PROMPT_IDS } : {}),
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: WORDS.join("") },
        logprobs: logprobs ? { content: IDS.map((_, i) => logprob(i)) } : null,
        finish_reason: "stop",
        ...(tokenIds ? { token_ids: IDS } : {}),
      },
    ],
    usage: { prompt_tokens: PROMPT_IDS.length, completion_tokens: TOKENS, total_tokens: PROMPT_IDS.length + TOKENS },
  });
}

function streamed(tokenIds: boolean, logprobs: boolean): string {
  const chunk = (i: number | undefined, delta: object, finish: string | null, first: boolean) =>
    `data: ${JSON.stringify({
      id: "chatcmpl-bench",
      object: "chat.completion.chunk",
      created: 1_700_000_000,
      model: "bench",
      ...(first && tokenIds ? { prompt_token_ids: PROMPT_IDS } : {}),
      choices: [
        {
          index: 0,
          delta,
          logprobs: logprobs && i !== undefined ? { content: [logprob(i)] } : null,
          finish_reason: finish,
          ...(tokenIds ? { token_ids: i === undefined ? [] : [IDS[i]] } : {}),
        },
      ],
    })}\n\n`;
  return [
    chunk(undefined, { role: "assistant", content: "" }, null, true),
    ...IDS.map((_, i) => chunk(i, { content: WORDS[i] }, null, false)),
    chunk(undefined, {}, "stop", false),
    "data: [DONE]\n\n",
  ].join("");
}

// Every combination precomputed: answering is a lookup and a write.
const answers = new Map<string, string>();
for (const stream of [false, true]) for (const ids of [false, true]) for (const lp of [false, true]) answers.set(`${stream}${ids}${lp}`, stream ? streamed(ids, lp) : whole(ids, lp));

function handle(request: IncomingMessage, response: ServerResponse): void {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as { stream?: boolean; return_token_ids?: boolean; logprobs?: boolean };
    const stream = body.stream === true;
    const answer = answers.get(`${stream}${body.return_token_ids === true}${body.logprobs === true}`)!;
    if (stream) {
      response.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
      response.end(answer);
    } else {
      response.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(answer) }).end(answer);
    }
  });
}

const server = createServer(handle);
server.keepAliveTimeout = 65_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`);
});
process.once("SIGTERM", () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
