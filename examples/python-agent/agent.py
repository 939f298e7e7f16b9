#!/usr/bin/env python3
"""A support-ticket router in Python, standard library only, trained by tracetrain.

It runs one rollout attempt: it asks an OpenAI-compatible endpoint which queue a ticket belongs
to, scores the answer, and tells tracetrain's store server what happened with two requests:

* its LLM call as an OpenTelemetry span, OTLP/HTTP JSON to ``POST {store}/v1/traces``, in the
  OTel GenAI conventions (with vLLM's exact token ids when the endpoint returns them);
* its reward, to ``POST {store}/v1/rollouts/{rollout}/attempts/{attempt}/rewards``.

Everything comes from the environment, which the trainer's ``agent()`` (main.ts) sets per
rollout:

  TRACETRAIN_STORE_URL, TRACETRAIN_TOKEN     the store server, and its bearer token (may be empty)
  TRACETRAIN_ROLLOUT_ID, TRACETRAIN_ATTEMPT_ID   which attempt this run is
  OPENAI_BASE_URL, OPENAI_MODEL, OPENAI_API_KEY  the model: ctx.llm() of the resources under test
  AGENT_SYSTEM_PROMPT                        the prompt under test: ctx.prompt("system")
  AGENT_TASK                                 the task as JSON: {"ticket": "...", "expected": "billing"}
  AGENT_RETURN_TOKEN_IDS                     "1": ask the endpoint for token ids (vLLM's return_token_ids)
"""

import json
import os
import re
import secrets
import sys
import time
import urllib.error
import urllib.request

QUEUES = ("security", "billing", "shipping", "bugs", "general")


def post_json(url, body, token=""):
    """POSTs JSON and returns the decoded answer; an HTTP error names the URL and the server's reply."""
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        raise SystemExit(f"agent.py: POST {url} failed: {error.code} {error.read().decode(errors='replace')}") from None
    except urllib.error.URLError as error:
        raise SystemExit(f"agent.py: cannot reach {url}: {error.reason}") from None


def attribute(key, value):
    """One OTLP/JSON attribute (strings, numbers, and lists of them — token ids are lists of ints)."""
    def any_value(v):
        if isinstance(v, bool):
            return {"boolValue": v}
        if isinstance(v, int):
            return {"intValue": str(v)}
        if isinstance(v, float):
            return {"doubleValue": v}
        if isinstance(v, (list, tuple)):
            return {"arrayValue": {"values": [any_value(x) for x in v]}}
        return {"stringValue": str(v)}
    return {"key": key, "value": any_value(value)}


def span(trace_id, name, start, end, attributes, parent=None, kind=1):
    """An OTLP span; times in ns since the epoch, kind 1 internal, 3 client."""
    return {
        "traceId": trace_id,
        "spanId": secrets.token_hex(8),
        **({"parentSpanId": parent} if parent else {}),
        "name": name,
        "kind": kind,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(end),
        "attributes": [attribute(k, v) for k, v in attributes.items() if v is not None],
        "status": {"code": 1},
    }


def parts(role, text):
    """A message as the GenAI conventions write it: a role and typed parts."""
    return {"role": role, "parts": [{"type": "text", "content": text}]}


def need(name):
    """A variable the run cannot do without; its absence is a usage error (exit 2), not a traceback."""
    value = os.environ.get(name)
    if value is None:
        print(f"agent.py: {name} is not set (main.ts sets it for each rollout; see the docstring)", file=sys.stderr)
        raise SystemExit(2)
    return value


def main():
    env = os.environ
    store, token = need("TRACETRAIN_STORE_URL").rstrip("/"), env.get("TRACETRAIN_TOKEN", "")
    rollout_id, attempt_id = need("TRACETRAIN_ROLLOUT_ID"), need("TRACETRAIN_ATTEMPT_ID")
    base_url, model = need("OPENAI_BASE_URL").rstrip("/"), need("OPENAI_MODEL")
    system, task = need("AGENT_SYSTEM_PROMPT"), json.loads(need("AGENT_TASK"))

    # The agent's own work: one chat completion.
    messages = [{"role": "system", "content": system}, {"role": "user", "content": task["ticket"]}]
    request = {"model": model, "messages": messages, "temperature": 0}
    if env.get("AGENT_RETURN_TOKEN_IDS") == "1":
        request["return_token_ids"] = True
    started = time.time_ns()
    reply = post_json(f"{base_url}/chat/completions", request, env.get("OPENAI_API_KEY", ""))
    ended = time.time_ns()
    choice = reply["choices"][0]
    text = choice["message"].get("content") or ""
    named = re.findall(r"\b(" + "|".join(QUEUES) + r")\b", text.lower())
    answer = named[0] if named else None

    # The trace: an agent span and its LLM call, in the OTel GenAI conventions.
    trace_id = secrets.token_hex(16)
    root = span(trace_id, "invoke_agent ticket-router", started, ended, {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "ticket-router"})
    usage = reply.get("usage") or {}
    call = span(trace_id, f"chat {model}", started, ended, {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": model,
        "gen_ai.request.temperature": 0.0,
        "gen_ai.response.id": reply.get("id"),
        "gen_ai.response.model": reply.get("model"),
        "gen_ai.usage.input_tokens": usage.get("prompt_tokens"),
        "gen_ai.usage.output_tokens": usage.get("completion_tokens"),
        "gen_ai.input.messages": json.dumps([parts(m["role"], m["content"]) for m in messages]),
        "gen_ai.output.messages": json.dumps([{**parts("assistant", text), "finish_reason": choice.get("finish_reason") or "stop"}]),
        # vLLM's exact tokens, when it sent them: training data that never re-tokenizes.
        "tracetrain.llm.prompt_token_ids": reply.get("prompt_token_ids"),
        "tracetrain.llm.response_token_ids": [choice["token_ids"]] if "token_ids" in choice else None,
    }, parent=root["spanId"], kind=3)
    ids = [attribute("tracetrain.rollout_id", rollout_id), attribute("tracetrain.attempt_id", attempt_id), attribute("service.name", "ticket-router")]
    answered = post_json(f"{store}/v1/traces", {"resourceSpans": [{"resource": {"attributes": ids}, "scopeSpans": [{"scope": {"name": "ticket-router"}, "spans": [root, call]}]}]}, token)
    if answered.get("partialSuccess", {}).get("rejectedSpans"):
        raise SystemExit(f"agent.py: the store rejected spans: {answered['partialSuccess']}")

    # The outcome: 1 for the expected queue, with feedback an optimizer can read.
    right = answer == task["expected"]
    feedback = "correct" if right else f"expected {task['expected']}, the agent answered {answer or repr(text)}"
    post_json(f"{store}/v1/rollouts/{rollout_id}/attempts/{attempt_id}/rewards", {"value": 1.0 if right else 0.0, "feedback": feedback}, token)


if __name__ == "__main__":
    main()
