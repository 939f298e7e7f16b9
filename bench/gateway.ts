/**
 * Gateway benchmark: what the gateway adds to an LLM call, against calling the upstream directly
 * in the same run. The upstream is a canned OpenAI-compatible server (bench/lib/canned-llm-child.ts:
 * 40 generated tokens, vLLM token ids and logprobs when asked) in its own process; the gateway
 * (bench/lib/gateway-child.ts, recording into a MemoryStore) in another; the client here. Every
 * call through the gateway is attributed to a train rollout, so it does the full work: token
 * capture added to the request, removed from the answer, the call recorded as a span.
 *
 * Two measurements per mode (whole answers, then streams):
 *   latency — one call at a time, direct and through the gateway, alternating; added p50/p99 are
 *             the differences of the percentiles of whole-call times;
 *   throughput — `--concurrency` calls in flight for `--seconds`, direct, then through the gateway.
 *
 *   {"bench":"gateway","stream":false,"added_p50_ms":…,"added_p99_ms":…,"req_per_s":…,"direct_req_per_s":…, …}
 *
 *   npm run bench -- gateway [--calls N] [--concurrency N] [--seconds S] [--profile DIR]
 */
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startChild } from "./lib/child.js";
import { percentile, round } from "./lib/stats.js";

const UPSTREAM = fileURLToPath(new URL("./lib/canned-llm-child.ts", import.meta.url));
const GATEWAY = fileURLToPath(new URL("./lib/gateway-child.ts", import.meta.url));

interface Scope {
  rolloutId: string;
  attemptId: string;
}

interface GatewayResult {
  bench: "gateway";
  stream: boolean;
  added_p50_ms: number;
  added_p99_ms: number;
  req_per_s: number;
  direct_req_per_s: number;
  p50_ms: number;
  direct_p50_ms: number;
  concurrency: number;
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      calls: { type: "string", default: "2000" },
      concurrency: { type: "string", default: "32" },
      seconds: { type: "string", default: "3" },
      profile: { type: "string" },
    },
  });
  const calls = positiveInt("--calls", values.calls);
  const concurrency = positiveInt("--concurrency", values.concurrency);
  const seconds = positiveInt("--seconds", values.seconds);
  const upstream = await startChild<{ url: string }>(UPSTREAM, []);
  const gateway = await startChild<{ url: string; scopes: Scope[] }>(GATEWAY, [upstream.info.url, String(concurrency)], values.profile);
  const agent = new HttpAgent({ keepAlive: true, maxSockets: concurrency * 2 });
  try {
    for (const stream of [false, true]) {
      const body = JSON.stringify({ model: "bench", messages: [{ role: "user", content: "Tell me forty words." }], stream, max_tokens: 40 });
      const direct = (i: number) => call(agent, `${upstream.info.url}/v1/chat/completions`, body, i);
      const viaGateway = (i: number) => {
        const scope = gateway.info.scopes[i % gateway.info.scopes.length]!;
        return call(agent, `${gateway.info.url}/rollout/${scope.rolloutId}/attempt/${scope.attemptId}/v1/chat/completions`, body, i);
      };
      progress(`${stream ? "streamed" : "whole"} answers: warm-up`);
      await latencies(direct, viaGateway, Math.min(500, calls));
      progress(`${stream ? "streamed" : "whole"} answers: ${calls} calls one at a time`);
      const latency = await latencies(direct, viaGateway, calls);
      progress(`${stream ? "streamed" : "whole"} answers: ${concurrency} in flight for ${seconds} s, direct then through the gateway`);
      const directRate = await throughput(direct, concurrency, seconds);
      const gatewayRate = await throughput(viaGateway, concurrency, seconds);
      const result: GatewayResult = {
        bench: "gateway",
        stream,
        added_p50_ms: round(percentile(latency.gateway, 50) - percentile(latency.direct, 50), 3),
        added_p99_ms: round(percentile(latency.gateway, 99) - percentile(latency.direct, 99), 3),
        req_per_s: round(gatewayRate),
        direct_req_per_s: round(directRate),
        p50_ms: round(percentile(latency.gateway, 50), 3),
        direct_p50_ms: round(percentile(latency.direct, 50), 3),
        concurrency,
      };
      process.stdout.write(`${JSON.stringify(result)}\n`);
    }
  } finally {
    agent.destroy();
    await gateway.stop();
    await upstream.stop();
  }
}

/** Whole-call times, direct and through the gateway, alternating so both see the same machine. */
async function latencies(direct: (i: number) => Promise<void>, viaGateway: (i: number) => Promise<void>, calls: number) {
  const out = { direct: new Float64Array(calls), gateway: new Float64Array(calls) };
  for (let i = 0; i < calls; i++) {
    let started = performance.now();
    await direct(i);
    out.direct[i] = performance.now() - started;
    started = performance.now();
    await viaGateway(i);
    out.gateway[i] = performance.now() - started;
  }
  return out;
}

async function throughput(send: (i: number) => Promise<void>, concurrency: number, seconds: number): Promise<number> {
  let count = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = worker; performance.now() < deadline; i += concurrency) {
        await send(i);
        count++;
      }
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

/** One call, read to the end; fails unless it succeeded and the answer has no captured fields the client did not ask for. */
function call(agent: HttpAgent, url: string, body: string, i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        if (response.statusCode !== 200) reject(new Error(`call ${i}: HTTP ${response.statusCode}: ${text.slice(0, 200)}`));
        else if (text.includes("token_ids")) reject(new Error(`call ${i}: the answer carries token ids the client did not ask for`));
        else resolve();
      });
      response.on("error", reject);
    });
    request.on("error", reject);
    request.end(body);
  });
}

function positiveInt(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${flag} must be a positive integer (got '${text}')`);
  return value;
}

function progress(message: string): void {
  process.stderr.write(`[gateway] ${message}\n`);
}
