"""A local OpenAI-compatible chat-completions server: for tests, benchmarks, and trying the gateway offline.

    python -m devtools.fake_model --port 8900 --latency-ms 300 --fail-rate 0.05

It is a real HTTP server (``ThreadingHTTPServer``, HTTP/1.1 keep-alive) that answers ``POST /v1/chat/completions``
with ``usage``, and misbehaves on request: latency, 500s, 429s with ``Retry-After`` (also from a per-minute
limit), timeouts (it sleeps past the client's read timeout), malformed JSON, or a 400 that echoes the
``Authorization`` header (a leaky proxy). Faults come at random rates or from a script for the next requests.
Replies are scripted, or made up from the request's JSON schema (so the Daily Sync's model path runs against it),
or an echo.

It counts what a client cannot see for itself: requests by outcome and by model asked for, the ``max_tokens``
each asked for, tokens sent, and concurrency (current, peak, and the time-weighted average between the first and
the last arrival, which is while work was still waiting).

    GET  /stats     the counters, arrivals and intervals (epoch seconds)
    POST /control   change the behaviour: a JSON object of Behaviour fields
    POST /reset     zero the counters, restore the start-up behaviour, wake sleeping requests
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field, fields, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import click

FAULTS = ("ok", "500", "429", "timeout", "malformed", "echo_auth")
MODEL = "fake-model"


@dataclass
class Behaviour:
    """How the server answers. Rates are probabilities per request; ``script`` faults come first, in order."""

    latency_ms: float = 0.0
    fail_rate: float = 0.0
    rate_limited_rate: float = 0.0  # share of 429s with Retry-After: retry_after_s
    timeout_rate: float = 0.0
    malformed_rate: float = 0.0
    rate_limit: int | None = None  # requests per minute before 429s
    retry_after_s: float = 1.0
    hang_s: float = 60.0  # how long a "timeout" keeps the client waiting
    api_key: str | None = None  # when set, requests must carry it as a bearer token
    script: list[str] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)

    def fault(self) -> str:
        """The fault for the next request (consuming the script first)."""
        if self.script:
            return self.script.pop(0)
        draw = random.random()
        for name, rate in (("500", self.fail_rate), ("429", self.rate_limited_rate), ("timeout", self.timeout_rate),
                           ("malformed", self.malformed_rate)):
            if draw < rate:
                return name
            draw -= rate
        return "ok"


class Stats:
    """Counters of the chat requests; ``generation`` changes on reset so requests from before it are not counted."""

    def __init__(self) -> None:
        self.generation = 0
        self.outcomes: dict[str, int] = {}
        self.models: dict[str, int] = {}
        self.max_tokens: list[int | None] = []
        self.current = 0
        self.peak = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.arrivals: list[float] = []
        self.intervals: list[tuple[float, float]] = []

    def snapshot(self) -> dict[str, Any]:
        return {"requests": len(self.arrivals), "outcomes": dict(self.outcomes), "models": dict(self.models),
                "max_tokens": list(self.max_tokens), "current": self.current,
                "peak": self.peak, "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "average_concurrency": average_concurrency(self.intervals), "arrivals": list(self.arrivals),
                "intervals": [list(i) for i in self.intervals], "now": time.time()}


def average_concurrency(intervals: list[tuple[float, float]], start: float | None = None,
                        end: float | None = None) -> float:
    """Time-weighted mean of requests in flight over [start, end] (default: first to last arrival)."""
    if not intervals:
        return 0.0
    start = min(s for s, _ in intervals) if start is None else start
    end = max(s for s, _ in intervals) if end is None else end
    if end <= start:
        return 0.0
    busy = sum(max(0.0, min(e, end) - max(s, start)) for s, e in intervals)
    return busy / (end - start)


class FakeModelServer(ThreadingHTTPServer):
    """The server (``serve_forever`` runs it; :func:`spawn` runs it in its own process)."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, host: str = "127.0.0.1", port: int = 0, behaviour: Behaviour | None = None) -> None:
        super().__init__((host, port), _Handler)
        self.initial = behaviour or Behaviour()
        self.behaviour = replace(self.initial, script=list(self.initial.script), replies=list(self.initial.replies))
        self.stats = Stats()
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self._window = (0.0, 0)  # (minute start, requests in it) for rate_limit

    @property
    def url(self) -> str:
        """The base URL clients use (``.../v1``)."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def control(self, changes: dict[str, Any]) -> None:
        known = {f.name for f in fields(Behaviour)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown behaviour field(s) {sorted(unknown)}; known: {sorted(known)}")
        bad = [f for f in changes.get("script", []) if f not in FAULTS]
        if bad:
            raise ValueError(f"unknown fault(s) {bad}; known: {list(FAULTS)}")
        with self.lock:
            self.behaviour = replace(self.behaviour, **changes)

    def reset(self) -> None:
        with self.lock:
            self.wake.set()
            self.wake = threading.Event()
            generation = self.stats.generation + 1
            self.stats = Stats()
            self.stats.generation = generation
            self.behaviour = replace(self.initial, script=list(self.initial.script),
                                     replies=list(self.initial.replies))
            self._window = (0.0, 0)

    def over_rate_limit(self, now: float) -> float | None:
        """Seconds until the minute's window resets if this request exceeds ``rate_limit``, else None."""
        limit = self.behaviour.rate_limit
        if limit is None:
            return None
        minute = now - now % 60
        start, count = self._window if self._window[0] == minute else (minute, 0)
        self._window = (start, count + 1)
        return minute + 60 - now if count >= limit else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server: FakeModelServer

    def log_message(self, format: str, *args: Any) -> None:  # requests are counted, not logged
        return

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/stats":
            with self.server.lock:
                self._json(HTTPStatus.OK, self.server.stats.snapshot())
        elif self.path.rstrip("/") in ("/health", "/v1/models"):
            self._json(HTTPStatus.OK, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        body = self._body()
        path = self.path.rstrip("/")
        if path == "/control":
            try:
                self.server.control(body if isinstance(body, dict) else {})
            except (TypeError, ValueError) as error:
                self._json(HTTPStatus.BAD_REQUEST, {"error": {"message": str(error)}})
                return
            self._json(HTTPStatus.OK, asdict(self.server.behaviour))
        elif path == "/reset":
            self.server.reset()
            self._json(HTTPStatus.OK, {"reset": True})
        elif path in ("/v1/chat/completions", "/chat/completions"):
            self._chat(body)
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": {"message": f"no route {self.path}"}})

    def _chat(self, request: Any) -> None:
        server = self.server
        arrived = time.time()
        with server.lock:
            stats, behaviour, wake = server.stats, server.behaviour, server.wake
            stats.arrivals.append(arrived)
            asked = request if isinstance(request, dict) else {}
            model = str(asked.get("model") or MODEL)
            stats.models[model] = stats.models.get(model, 0) + 1
            stats.max_tokens.append(asked.get("max_tokens"))
            stats.current += 1
            stats.peak = max(stats.peak, stats.current)
            fault = "401" if behaviour.api_key and not self._authorized(behaviour.api_key) else behaviour.fault()
            limited = server.over_rate_limit(arrived) if fault == "ok" else None
            reply = behaviour.replies.pop(0) if fault == "ok" and limited is None and behaviour.replies else None
        try:
            wake.wait(behaviour.hang_s if fault == "timeout" else behaviour.latency_ms / 1000)
            answer = self._answer(request, fault, limited, behaviour.retry_after_s, reply)
        finally:
            with server.lock:
                if stats is server.stats:
                    stats.current -= 1
                    stats.intervals.append((arrived, time.time()))
        outcome, status, payload, headers = answer
        with server.lock:
            if stats is server.stats:
                stats.outcomes[outcome] = stats.outcomes.get(outcome, 0) + 1
                if status == HTTPStatus.OK and isinstance(payload, dict):
                    stats.prompt_tokens += payload["usage"]["prompt_tokens"]
                    stats.completion_tokens += payload["usage"]["completion_tokens"]
        self._send(status, payload, headers)

    def _answer(self, request: Any, fault: str, limited: float | None, retry_after_s: float,
                reply: str | None) -> tuple[str, HTTPStatus, Any, dict[str, str]]:
        if fault == "401":
            return "401", HTTPStatus.UNAUTHORIZED, {"error": {"message": "invalid API key"}}, {}
        if fault == "429" or limited is not None:
            wait_s = retry_after_s if limited is None else limited
            return "429", HTTPStatus.TOO_MANY_REQUESTS, {"error": {"message": "rate limited"}}, \
                {"Retry-After": f"{wait_s:g}"}
        if fault == "500":
            return "500", HTTPStatus.INTERNAL_SERVER_ERROR, {"error": {"message": "injected failure"}}, {}
        if fault == "timeout":
            return "timeout", HTTPStatus.GATEWAY_TIMEOUT, {"error": {"message": "slept past the timeout"}}, {}
        if fault == "malformed":
            return "malformed", HTTPStatus.OK, '{"choices": [{"message": {"content": "trunc', {}
        if fault == "echo_auth":
            echoed = self.headers.get("Authorization", "")
            return "echo_auth", HTTPStatus.BAD_REQUEST, {"error": {"message": f"bad request from {echoed}"}}, {}
        if not isinstance(request, dict) or not isinstance(request.get("messages"), list):
            return "400", HTTPStatus.BAD_REQUEST, {"error": {"message": "expected a JSON body with messages"}}, {}
        return "ok", HTTPStatus.OK, completion(request, reply), {}

    def _authorized(self, key: str) -> bool:
        return self.headers.get("Authorization") == f"Bearer {key}"

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return None

    def _json(self, status: HTTPStatus, payload: Any) -> None:
        self._send(status, payload, {})

    def _send(self, status: HTTPStatus, payload: Any, headers: dict[str, str]) -> None:
        data = (payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (its read timeout): nothing to answer


def spawn(*options: str) -> tuple[subprocess.Popen[str], str]:
    """Run the server (with command-line ``options``) in its own process on a free port.

    Returns:
        The process (terminate it when done) and the base URL clients use.

    Raises:
        RuntimeError: the server did not start; the message has what it printed.
    """
    process = subprocess.Popen([sys.executable, "-m", "devtools.fake_model", "--port", "0", *options],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if "listening on " not in line:
        process.kill()
        raise RuntimeError(f"the fake model server did not start: {line!r}")
    return process, line.split("listening on ")[1].split()[0]


def completion(request: dict[str, Any], reply: str | None = None) -> dict[str, Any]:
    """A chat completion for ``request``: the scripted reply, an instance of its JSON schema, or an echo."""
    if reply is None:
        reply = _made_up(request)
    prompt_tokens = tokens(json.dumps(request.get("messages"), ensure_ascii=False))
    completion_tokens = tokens(reply)
    return {
        "id": f"chatcmpl-{random.getrandbits(48):012x}", "object": "chat.completion", "created": int(time.time()),
        "model": str(request.get("model") or MODEL),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


def tokens(text: str) -> int:
    """A stand-in tokenizer: about four characters a token, like English text on GPT tokenizers."""
    return len(text) // 4 + 1


def _made_up(request: dict[str, Any]) -> str:
    response_format = request.get("response_format") or {}
    schema = (response_format.get("json_schema") or {}).get("schema")
    if schema is not None:
        return json.dumps(instance(schema, schema), ensure_ascii=False)
    last = next((m.get("content", "") for m in reversed(request["messages"]) if m.get("role") == "user"), "")
    echo = " ".join(str(last).split())[:200]
    return json.dumps({"echo": echo}) if response_format.get("type") == "json_object" else f"echo: {echo}"


def instance(schema: dict[str, Any], root: dict[str, Any], name: str = "value") -> Any:
    """A small value that satisfies ``schema`` (the subset pydantic emits: refs, objects, arrays, scalars)."""
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return instance(target, root, name)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [o for o in schema[key] if o.get("type") != "null"] or schema[key]
            return instance(options[0], root, name)
    kind = schema.get("type", "object")
    if kind == "object":
        properties = schema.get("properties", {})
        return {key: instance(sub, root, key) for key, sub in properties.items()}
    if kind == "array":
        count = max(int(schema.get("minItems", 1)), 1)
        return [instance(schema.get("items", {}), root, name) for _ in range(count)]
    if kind in ("integer", "number"):
        low, high = schema.get("minimum", 0), schema.get("maximum", schema.get("minimum", 0) + 1)
        middle = (low + high) / 2
        return int(middle) if kind == "integer" else middle
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return f"sample {name}".ljust(int(schema.get("minLength", 0)), ".")


@click.command("fake-model")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8900, show_default=True, envvar="FAKE_MODEL_PORT", show_envvar=True,
              help="0 picks a free port.")
@click.option("--latency-ms", type=float, default=0, show_default=True, help="Time to answer each request.")
@click.option("--fail-rate", type=click.FloatRange(0, 1), default=0, show_default=True, help="Share of HTTP 500s.")
@click.option("--rate-limited-rate", type=click.FloatRange(0, 1), default=0, show_default=True,
              help="Share of HTTP 429s, with Retry-After: --retry-after-s.")
@click.option("--retry-after-s", type=float, default=1, show_default=True, help="The Retry-After of a 429.")
@click.option("--timeout-rate", type=click.FloatRange(0, 1), default=0, show_default=True,
              help="Share of requests left unanswered for --hang-s.")
@click.option("--malformed-rate", type=click.FloatRange(0, 1), default=0, show_default=True,
              help="Share of replies that are not valid JSON.")
@click.option("--rate-limit", type=click.IntRange(1), help="Requests per minute, then 429 with Retry-After.")
@click.option("--hang-s", type=float, default=60, show_default=True)
@click.option("--api-key", envvar="FAKE_MODEL_API_KEY", show_envvar=True,
              help="Require this bearer token.")
def main(host: str, port: int, latency_ms: float, fail_rate: float, rate_limited_rate: float, retry_after_s: float,
         timeout_rate: float, malformed_rate: float, rate_limit: int | None, hang_s: float,
         api_key: str | None) -> None:
    """Run a local OpenAI-compatible model server, to try the gateway without a provider.

    It answers JSON-schema requests with made-up valid JSON, so the Daily Sync's model path runs against it;
    GET /stats shows what it saw.

    \b
    Example:
      python -m devtools.fake_model --port 8900 --latency-ms 300 --fail-rate 0.05 &
      ORGANISM_GATEWAY__BASE_URL=http://127.0.0.1:8900/v1 ORGANISM_GATEWAY__MODEL=fake-model \\
        organism sync --wait --local-workers
    """
    behaviour = Behaviour(latency_ms=latency_ms, fail_rate=fail_rate, rate_limited_rate=rate_limited_rate,
                          retry_after_s=retry_after_s, timeout_rate=timeout_rate, malformed_rate=malformed_rate,
                          rate_limit=rate_limit, hang_s=hang_s, api_key=api_key)
    try:
        server = FakeModelServer(host, port, behaviour)
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error}; try another --port") from None
    click.echo(f"fake model listening on {server.url} (stats at {server.url.removesuffix('/v1')}/stats)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
