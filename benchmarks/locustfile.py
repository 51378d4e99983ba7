"""A realistic mixed workload for load-testing the gateway with locust (benchmarks/README.md).

    python -m gateway.mock --port 8080 --latency-ms 200 &
    python -m gateway -f benchmarks/locust-config.yaml &
    locust -f benchmarks/locustfile.py --headless -u 50 -r 10 -t 1m --host http://127.0.0.1:3000

Twenty users in four teams (x-user-id / x-team-id, trusted by locust-config.yaml) chat through
both client formats (OpenAI /v1/chat/completions, Anthropic /v1/messages), streamed and not; some
prompts carry PII, which the gateway must mask before the provider sees it (the mock echoes the
prompt, so a leak is visible and counted as a failure). Two users misbehave on purpose: "batch-job"
sends 10 requests/s per locust user and runs into the per-user limit of 5/s, "intern" has a tiny daily budget. Their
429s are the expected outcome, so they count as successes, and each refusal is also reported as
its own row (request type REFUSED) in locust's statistics.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from typing import Any

from locust import HttpUser, between, constant_pacing, events, task
from locust.clients import ResponseContextManager

TEAMS = ("research", "support", "sales", "platform")
USERS = [(f"user{i:02d}", TEAMS[i % len(TEAMS)]) for i in range(20)]
PROMPTS = (
    "What is a reverse proxy?",
    "Summarise the benefits of connection pooling for an HTTP reverse proxy in two short sentences.",
    "Write a haiku about rate limits.",
    "Explain the difference between a token bucket and a leaky bucket, with one example each, "
    "and say which one an API gateway should use for per-user limits and why.",
    "Translate 'good morning, the build is green' into French and German.",
)
# (prompt, the raw PII that must not come back, the label the gateway masks it with). The PII sits
# in the first 40 characters because that is what the mock echoes back.
PII_PROMPTS = (
    ("Mail jane.doe@example.com the weekly report", "jane.doe@example.com", "<EMAIL_ADDRESS>"),
    ("My SSN is 123-45-6789, is that safe here?", "123-45-6789", "<SSN>"),
    ("Card 4111 1111 1111 1111 was declined, why", "4111 1111 1111 1111", "<CREDIT_CARD>"),
)
OPENAI_MODEL = "gpt-4o-mini"
ANTHROPIC_MODEL = "claude-haiku-4-5-20251001"


def openai_body(prompt: str, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"model": OPENAI_MODEL, "max_tokens": 128, "stream": stream,
                            "messages": [{"role": "system", "content": "You are a helpful assistant."},
                                         {"role": "user", "content": prompt}]}
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


def anthropic_body(prompt: str, stream: bool) -> dict[str, Any]:
    return {"model": ANTHROPIC_MODEL, "max_tokens": 128, "stream": stream, "system": "You are a helpful assistant.",
            "messages": [{"role": "user", "content": prompt}]}


def answer_text(fmt: str, data: dict[str, Any]) -> str:
    if fmt == "openai":
        return str(data["choices"][0]["message"]["content"])
    return "".join(block.get("text", "") for block in data["content"])


def sse_events(resp: Any) -> Iterator[dict[str, Any]]:
    for line in resp.iter_lines():
        if line.startswith(b"data:") and line[5:].strip() != b"[DONE]":
            yield json.loads(line[5:])


def streamed_text(fmt: str, resp: Any) -> tuple[str, bool]:
    """(the answer's text, whether the stream ended properly)."""
    text, finished = [], False
    for event in sse_events(resp):
        if fmt == "openai":
            for choice in event.get("choices", []):
                text.append(choice.get("delta", {}).get("content") or "")
                finished = finished or choice.get("finish_reason") is not None
        elif event.get("type") == "content_block_delta":
            text.append(event["delta"].get("text", ""))
        elif event.get("type") == "message_stop":
            finished = True
    return "".join(text), finished


class GatewayUser(HttpUser):
    """Base: one identity per simulated user, both client formats."""

    abstract = True
    wait_time = between(0.5, 2.0)
    user: str = ""
    team: str = ""

    def on_start(self) -> None:
        if not self.user:
            self.user, self.team = random.choice(USERS)

    def headers(self, fmt: str) -> dict[str, str]:
        h = {"x-user-id": self.user, "x-team-id": self.team, "content-type": "application/json"}
        if fmt == "anthropic":
            h["anthropic-version"] = "2023-06-01"
        return h

    def send(self, fmt: str, prompt: str, stream: bool, name: str, pii: tuple[str, str] | None = None,
             refusal: str | None = None) -> None:
        """One request, checked the way its client would check it; `refusal` is the expected 429 text."""
        path = "/v1/chat/completions" if fmt == "openai" else "/v1/messages"
        body = openai_body(prompt, stream) if fmt == "openai" else anthropic_body(prompt, stream)
        started = time.perf_counter()
        with self.client.post(path, json=body, headers=self.headers(fmt), name=name, stream=stream,
                              catch_response=True) as resp:
            if resp.status_code == 429 and refusal and refusal in resp.text:
                resp.success()
                self.report_refusal(f"{name}: 429 {refusal}", started)
            elif resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}: {resp.text[:200]}")
            else:
                self.check_answer(resp, fmt, stream, pii)

    def check_answer(self, resp: ResponseContextManager, fmt: str, stream: bool, pii: tuple[str, str] | None) -> None:
        try:
            text, finished = streamed_text(fmt, resp) if stream else (answer_text(fmt, resp.json()), True)
        except (ValueError, KeyError, IndexError, TypeError) as e:
            resp.failure(f"malformed answer: {e!r}")
            return
        if not finished or not text:
            resp.failure("stream ended without a final event" if stream else "empty answer")
        elif pii and (pii[0] in text or pii[1] not in text):
            resp.failure(f"PII not masked: expected {pii[1]} in {text[:120]!r}")
        else:
            resp.success()

    def report_refusal(self, name: str, started: float) -> None:
        events.request.fire(request_type="REFUSED", name=name, response_time=(time.perf_counter() - started) * 1000,
                            response_length=0, exception=None, context={})


class ChatUser(GatewayUser):
    """The typical application: mostly ordinary prompts, some streamed, a few with PII."""

    weight = 12

    @task(5)
    def openai_chat(self) -> None:
        self.send("openai", random.choice(PROMPTS), False, "openai chat")

    @task(3)
    def openai_stream(self) -> None:
        self.send("openai", random.choice(PROMPTS), True, "openai chat stream")

    @task(4)
    def anthropic_messages(self) -> None:
        self.send("anthropic", random.choice(PROMPTS), False, "anthropic messages")

    @task(2)
    def anthropic_stream(self) -> None:
        self.send("anthropic", random.choice(PROMPTS), True, "anthropic messages stream")

    @task(1)
    def pii_prompt(self) -> None:
        prompt, raw, label = random.choice(PII_PROMPTS)
        fmt = random.choice(("openai", "anthropic"))
        self.send(fmt, prompt, random.random() < 0.5, f"{fmt} PII (masked)", pii=(raw, label))


class BatchJobUser(GatewayUser):
    """A batch job that ignores limits: 10 requests/s per locust user, over the 5/s per-user limit."""

    weight = 1
    wait_time = constant_pacing(0.1)
    user, team = "batch-job", "platform"

    @task
    def burst(self) -> None:
        self.send("openai", random.choice(PROMPTS), False, "batch-job chat", refusal="rate limit exceeded")


class InternUser(GatewayUser):
    """A user with a tiny daily budget: a few answers, then 429 budget exhausted."""

    weight = 1
    user, team = "intern", "research"

    @task
    def ask(self) -> None:
        fmt = random.choice(("openai", "anthropic"))
        self.send(fmt, random.choice(PROMPTS), False, f"intern {fmt}", refusal="budget exhausted")
