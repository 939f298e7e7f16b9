/** The text of `tracetrain --help`, and of each command's `--help`. */

export const USAGE = `usage:
  tracetrain store serve [--store URL] [--host HOST] [--port PORT] [--token TOKEN] [--insecure]
      Serve a store over HTTP. --store: "sqlite:PATH" (default sqlite:./.tracetrain/tracetrain.db),
      "postgres://…" or "memory". --host defaults to 127.0.0.1; binding any other address needs a
      token (--token or TRACETRAIN_TOKEN) unless --insecure.
  tracetrain dashboard --store PATH|URL [--host HOST] [--port PORT] [--token TOKEN]
      Serve the dashboard, read-only, for a store: a SQLite file (PATH or sqlite:PATH, which must
      exist), postgres://…, or a store server's http(s):// URL (read through its API, token
      --token or TRACETRAIN_TOKEN, which then guards this server too). Prints the address to
      open. Default port 4750. tracetrain store serve serves the dashboard at / as well.
  tracetrain runner --store URL --agent PATH [--name AGENT] [--concurrency N] [--token TOKEN]
      Join a store server and run rollouts with the agent exported by PATH (a .js module, or a .ts
      module when tsx is installed). --name picks the agent if the module exports several.
  tracetrain export --store URL --format chat|tokens [--mode train|val|test] [--agent NAME]
                    [--min-reward X] [--top-k N] [--credit POLICY] [--per call|conversation]
                    [--max-length N] [--out FILE] [--token TOKEN]
      Write the succeeded rollouts' trajectories as JSONL (to FILE, or stdout): "chat" is OpenAI
      fine-tuning records for SFT, "tokens" is token samples for RL (prompt_ids, response_ids,
      response_mask, logprobs, reward, rollout_id, group_id, policy_version; only calls with
      exact token ids). --mode and --agent may repeat. --top-k keeps the k best rollouts of each
      task. --credit: final (default), lastCall, perCall or discounted:γ. A summary of what was
      exported and left out goes to stderr.
  tracetrain gateway --store URL --upstream URL [--upstream URL …] [--upstream-key KEY]
                     [--host HOST] [--port PORT] [--token TOKEN] [--insecure] [--record-unscoped]
                     [--capture train|always|never] [--skip-probe] [--store-token TOKEN]
      Run the LLM gateway: an OpenAI-compatible proxy (default port 4748) that records every call
      made under /rollout/{rolloutId}/attempt/{attemptId}/v1 into the store (a store server's
      http(s):// URL, or sqlite:…, postgres://…), with exact token ids from upstreams that give
      them (vLLM). --upstream repeats (calls of one rollout stick to one upstream); its key comes
      from --upstream-key or TRACETRAIN_UPSTREAM_KEY and is never recorded. Agents authenticate
      with --token (or TRACETRAIN_GATEWAY_TOKEN) or a per-rollout key; the store server's token is
      --store-token or TRACETRAIN_TOKEN.
  tracetrain harness --agent PATH [--name AGENT] [--task-env [FIELD=]VAR[:json] …] [--task-json-env VAR]
                     [--model NAME] [--resources FILE] [--max-pause SECONDS]
      Run one rollout as an Agent Lightning v1.0 harness process (their controller starts one per
      rollout): the agent gets the LLM "main" at AGL_OPENAI_BASE_URL with key AGL_KEY (none when
      empty; model --model, default "auto"; mode val when the URL says /mode/val/, else train),
      through a local relay that holds calls while the proxy answers 429/503 with Retry-After (up
      to --max-pause, default 1800 s), plus the resources of FILE (a JSON resources map); its
      reward is POSTed as a reward event to AGL_EVENT_URL. The task is the JSON in variable VAR, or
      an object of --task-env fields: FIELD (default VAR) is the text of VAR, JSON-decoded with
      :json. Exit 0 once the reward is posted; 1 when the agent fails, gives no reward or the post
      fails; 2 on a missing variable or bad input. python/tracetrain_harness.py starts it from
      Agent Lightning's local controller.
  tracetrain backend serve --reference [--actions A,B,…] [--host HOST] [--port PORT] [--token TOKEN]
                           [--seed N]
      Serve the CPU reference policy over the RL backend protocol (docs/rl-backend-protocol.md; for
      HttpTrainingBackend), with its OpenAI-compatible endpoint on a port of its own. --actions: the
      words it can answer (each one o200k token; default: the demo's). Default port 4749.
  tracetrain demo [--steps N] [--dir DIR] [--seed N] [--async]
      Train a small policy with RL on this machine (no network, no API key): the CPU reference
      backend, the gateway, an openai-SDK agent doing a two-call tool task, a SQLite store. Prints
      a reward table; writes reward-curve.svg and result.json to DIR (default .tracetrain/demo).
      --async keeps rollouts running while the backend trains (at most one policy version stale).
  tracetrain dataset check FILE [--format jsonl|json|csv]
      Read a dataset file as loadDataset does (JSONL, JSON or CSV, by its extension unless
      --format says) and print how many rows it has, or the first problem as FILE:LINE: what.
  tracetrain init [DIR] [--framework openai|ai-sdk|langchain|openai-agents|plain] [--force]
      Write a small project into DIR (default: this folder), which must be new or empty unless
      --force (then same-named files are replaced): an agent for the framework (default openai)
      that reads its prompt with ctx.prompt() and its model with ctx.llm(), 24 support tickets,
      simulated models, and main.ts, which evaluates the agent, optimizes its prompt with APO and
      prints a before/after table. Then: cd DIR, npm install, npm start (offline; set
      OPENAI_BASE_URL, OPENAI_API_KEY and OPENAI_MODEL for a real endpoint).
  tracetrain --version
      Print tracetrain's version. Any command followed by --help prints its own usage.

  A failure is one line on stderr; exit 2 when it is something to fix (a bad option, a port in
  use, a path, a store that is missing or unreachable, a module not found), 1 otherwise. Add
  --debug (or set TRACETRAIN_DEBUG=1) for the stack trace.`;

/** The usage of one command (every section of USAGE that starts with it), or all of it for an unknown one. */
export function usageOf(command: string): string {
  const sections = USAGE.split(/\n(?= {2}tracetrain )/).slice(1);
  const mine = sections.filter((section) => section.startsWith(`  tracetrain ${command} `) || section.startsWith(`  tracetrain ${command}\n`));
  return mine.length === 0 ? USAGE : `usage:\n${mine.join("\n")}`;
}

/** What the usage of `command` says `option` takes (`--store URL` → "URL"), or undefined. */
export function valueNameOf(command: string, option: string): string | undefined {
  const escaped = option.replace(/[-/\\^$*+?.()|[\]{}]/g, "\\$&");
  return new RegExp(`${escaped} ([A-Z][\\w|,…=:-]*|[a-z]+(?:\\|[a-z]+)+)`).exec(usageOf(command))?.[1];
}
