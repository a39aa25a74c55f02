"""The HTTP API and web page: translate C++ over HTTP, from OpenAI-compatible clients, or in the browser.

Run as: cpp2py serve [--model M] [--adapter DIR] [--host 127.0.0.1] [--port 8000] [--allow-exec]

The model is loaded once, in :func:`run_serve`, and owned by one worker thread (:class:`BatchWorker`).
Request handlers never touch it: they queue a job and wait for its future. The worker takes up to
``batch_size`` jobs that arrive within ``batch_wait_ms`` of each other and calls the backend once for
them, so concurrent users share GPU batches and the model is never loaded twice.

Limits, all in :class:`ServeConfig`: ``max_queue`` waiting requests (HTTP 429 beyond it), ``max_body_kb``
per request body (413), ``timeout`` seconds per request (504).

Safety: the server binds to loopback unless told otherwise, and then only answers requests whose Host
header names the loopback (which defeats DNS-rebinding pages in the user's browser). JSON bodies are
required, so a cross-site HTML form cannot post one. Verify runs model-written code, and only through
:mod:`cpp2py.sandbox`, and only when the server was started with ``allow_exec``; otherwise a verify request
is refused with 403 rather than silently answered unverified. No endpoint takes a file path: the only
files served are the page's own static assets.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import queue
import sys
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, Field

from cpp2py import prompt
from cpp2py.cpp_source import check_cpp
from cpp2py.errors import Cpp2PyError

log = logging.getLogger("cpp2py.serve")

STATIC_DIR = Path(__file__).with_name("static")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
START_TIME = time.time()


@dataclass
class ServeConfig:
    model: str | None = None          # None: the default model, as `cpp2py translate` uses
    adapter: str | None = None
    backend: str = "auto"             # auto | llamacpp | hf (local model) | openai (an OpenAI-compatible server)
    base_url: str | None = None       # for backend "openai"
    host: str = "127.0.0.1"
    port: int = 8000
    batch_size: int = 8               # requests per backend call
    batch_wait_ms: float = 5.0        # how long the worker waits to fill a batch once a request arrived
    max_queue: int = 64               # requests waiting for the model; more get HTTP 429
    max_body_kb: int = 256            # request body limit; larger gets HTTP 413
    timeout: float = 300.0            # seconds a request may wait and run; longer gets HTTP 504
    max_new_tokens: int = 1024        # cap for chat completions' max_tokens
    allow_exec: bool = False          # Verify runs model-written code (in the sandbox) only when set
    served_model_name: str = "cpp2py"  # the id /v1/models reports


class TranslateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt "verfy" must not be silently dropped
    cpp: str = Field(description="The C++ source to translate.")
    verify: bool = Field(False, description="Run the self-repair loop in the sandbox (needs --allow-exec).")
    stdin: str | None = Field(None, description="Input for the C++ program and its translation when verifying.")
    test: str | None = Field(None, description="Python test code the translation must pass when verifying.")


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # temperature, top_p, user...: accepted, greedy decoding kept
    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    n: int = Field(1, ge=1, le=1)
    stream: bool = False


class QueueFull(Exception):
    """More requests are waiting than ``max_queue`` allows."""


@dataclass
class Job:
    kind: str                          # "translate" or "chat"
    key: Any                           # jobs with equal (kind, key) share one backend call
    payload: Any
    future: Future


class BatchWorker:
    """One thread that owns the model: takes queued jobs in micro-batches and runs each group at once."""

    def __init__(self, run_group: Callable[[str, Any, list[Any]], list[Any]], *, batch_size: int,
                 batch_wait_s: float, max_queue: int):
        self._run_group = run_group
        self.batch_size = max(1, batch_size)
        self.batch_wait_s = batch_wait_s
        self.max_queue = max_queue
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="cpp2py-model", daemon=True)
        self.batches: list[int] = []   # sizes of the backend calls made, for /healthz and tests

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    def submit(self, kind: str, key: Any, payload: Any) -> Future:
        fut: Future = Future()
        with self._lock:  # check and put together, so the limit holds under concurrent submits
            if self._queue.qsize() >= self.max_queue:
                raise QueueFull
            self._queue.put(Job(kind, key, payload, fut))
        return fut

    def _take_batch(self) -> list[Job] | None:
        first = self._queue.get()
        if first is None:
            return None
        batch = [first]
        deadline = time.monotonic() + self.batch_wait_s
        while len(batch) < self.batch_size:
            left = deadline - time.monotonic()
            try:
                job = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._queue.put(None)  # keep the stop signal for the loop
                break
            batch.append(job)
        return batch

    def _loop(self) -> None:
        while (batch := self._take_batch()) is not None:
            # A job whose request already timed out was cancelled: skip it rather than spend the model on it.
            live = [j for j in batch if j.future.set_running_or_notify_cancel()]
            groups: dict[tuple[str, Any], list[Job]] = {}
            for job in live:
                groups.setdefault((job.kind, job.key), []).append(job)
            for (kind, key), jobs in groups.items():
                self.batches.append(len(jobs))
                try:
                    results = self._run_group(kind, key, [j.payload for j in jobs])
                except BaseException as e:  # the error belongs to these requests; the worker lives on
                    log.exception("backend call failed")
                    for j in jobs:
                        j.future.set_exception(e)
                    continue
                for j, r in zip(jobs, results):
                    if isinstance(r, Exception):
                        j.future.set_exception(r)
                    else:
                        j.future.set_result(r)


class _Engine:
    """What the worker calls: the translator(s) and the raw backend behind them."""

    def __init__(self, translator_or_backend: Any):
        if hasattr(translator_or_backend, "translate_many"):
            self.translator = translator_or_backend
            self.backend = translator_or_backend.backend
        else:
            from cpp2py.translate import TranslateConfig, Translator

            self.backend = translator_or_backend
            self.translator = Translator(self.backend, TranslateConfig())
        self._verifier = None

    @property
    def verifier(self) -> Any:
        """The same translator with its self-repair loop on (built on first use, sharing the backend)."""
        if self._verifier is None:
            from cpp2py.translate import Translator

            self._verifier = Translator(self.backend, dataclasses.replace(self.translator.cfg, verify=True))
        return self._verifier

    def run_group(self, kind: str, key: Any, payloads: list[Any]) -> list[Any]:
        if kind == "chat":
            return self.backend.generate(payloads, decoding=self.translator.cfg.decoding(), max_new_tokens=key)
        translator = self.verifier if key else self.translator
        cpps = [p["cpp"] for p in payloads]
        items = [p["item"] for p in payloads] if key else None
        try:
            return translator.translate_many(cpps, items)
        except Cpp2PyError:
            if len(payloads) == 1:
                raise
        # One input was refused (e.g. a declaration too long for the window): answer the others, and
        # that one with its error.
        out: list[Any] = []
        for k, cpp in enumerate(cpps):
            try:
                out += translator.translate_many([cpp], [items[k]] if items else None)
            except Cpp2PyError as e:
                out.append(e)
        return out

    def count_tokens(self, msgs: list[dict[str, str]], reply: str) -> dict[str, int] | None:
        """Token usage for a chat completion, when the backend has a local tokenizer to count with."""
        tok = getattr(self.backend, "tokenizer", None)
        if tok is None:  # a remote backend only estimates its counts
            return None
        style = getattr(self.backend, "style", None) or prompt.style_for(tok)
        p = self.backend.count_tokens(prompt.render(tok, msgs, style))
        c = self.backend.count_tokens(str(reply))
        return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def _verify_item(cpp: str, stdin: str | None, test: str | None) -> dict[str, Any]:
    """The oracle for a request: its Python ``test`` if given, else a full program's stdout on ``stdin``."""
    from cpp2py.translate import file_oracle

    return {**file_oracle(cpp), "stdin": stdin or "", "test": test}


def _error(status: int, message: str, kind: str) -> Any:
    from fastapi.responses import JSONResponse

    # The OpenAI error shape, so the openai client shows the message; the page reads the same field.
    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status_code=status)


class BodyLimit:
    """ASGI middleware: refuse bodies over ``max_bytes`` with 413, whether or not Content-Length is sent."""

    def __init__(self, app: Any, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_big = _error(413, f"request body over the server's limit of {self.max_bytes // 1024} KiB", "body_too_large")
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return await too_big(scope, receive, send)
        # Without a Content-Length (chunked), count while reading: buffer up to the limit, then decide.
        if length is None and scope.get("method") in ("POST", "PUT", "PATCH"):
            body, more = b"", True
            while more:
                msg = await receive()
                body += msg.get("body", b"")
                more = msg.get("more_body", False)
                if len(body) > self.max_bytes:
                    return await too_big(scope, receive, send)
            sent = False

            async def replay() -> dict:
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            return await self.app(scope, replay, send)
        return await self.app(scope, receive, send)


def create_app(translator_or_backend: Any, cfg: ServeConfig | None = None) -> Any:
    """The FastAPI app around a loaded translator (or a bare backend, wrapped in a default Translator).

    The worker thread starts with the app (lifespan) and stops with it.
    """
    import contextlib

    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, StreamingResponse
    from fastapi.staticfiles import StaticFiles
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    cfg = cfg or ServeConfig()
    engine = _Engine(translator_or_backend)
    worker = BatchWorker(engine.run_group, batch_size=cfg.batch_size, batch_wait_s=cfg.batch_wait_ms / 1000,
                         max_queue=cfg.max_queue)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any):
        worker.start()
        yield
        worker.stop()

    app = FastAPI(title="cpp2py", summary="Translate C++ into Python", lifespan=lifespan)
    app.state.worker = worker
    app.state.cfg = cfg

    async def wait_for(kind: str, key: Any, payload: Any) -> Any:
        try:
            fut = worker.submit(kind, key, payload)
        except QueueFull:
            raise StarletteHTTPException(429, f"server busy: {worker.max_queue} requests already waiting; retry later")
        try:
            return await asyncio.wait_for(asyncio.wrap_future(fut), timeout=cfg.timeout)
        except asyncio.TimeoutError:
            fut.cancel()
            raise StarletteHTTPException(504, f"request took longer than the server's limit of {cfg.timeout:g} s")
        except Cpp2PyError as e:
            raise StarletteHTTPException(400, str(e))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Any:
        kinds = {400: "invalid_request_error", 403: "permission_error", 404: "not_found_error",
                 429: "rate_limit_error", 504: "timeout_error"}
        return _error(exc.status_code, str(exc.detail), kinds.get(exc.status_code, "server_error"))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Any:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return _error(400, "request body is not valid JSON", "invalid_request_error")
        if any(tuple(e.get("loc", ())) == ("body",) for e in errors):
            return _error(400, "request body must be a JSON object sent as Content-Type: application/json",
                          "invalid_request_error")
        parts = [f"{'.'.join(str(x) for x in e.get('loc', ())[1:]) or 'body'}: {e.get('msg')}" for e in errors]
        return _error(422, "; ".join(parts), "invalid_request_error")

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Any:
        log.exception("request failed")
        return _error(500, f"internal error: {type(exc).__name__}: {exc}", "server_error")

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "model": cfg.served_model_name, "allow_exec": cfg.allow_exec,
                "waiting": worker.waiting, "max_queue": cfg.max_queue, "batch_size": worker.batch_size,
                "max_body_kb": cfg.max_body_kb, "timeout": cfg.timeout}

    @app.post("/v1/translate")
    async def translate(req: TranslateRequest) -> dict[str, Any]:
        try:
            check_cpp(req.cpp, "cpp")
        except Cpp2PyError as e:
            raise StarletteHTTPException(400, str(e))
        if req.verify and not cfg.allow_exec:
            raise StarletteHTTPException(
                403, "verify runs the translation and this server was started without --allow-exec")
        payload = {"cpp": req.cpp, "item": _verify_item(req.cpp, req.stdin, req.test) if req.verify else None}
        r = await wait_for("translate", req.verify, payload)
        out = {"python": r.python, "parses": r.parses, "verified": r.verified, "repairs": r.repairs,
               "seconds": round(r.seconds, 3), "hit_token_cap": r.hit_token_cap}
        if req.verify:
            out["check"] = r.check   # the last verdict, e.g. "pass: ..." or "wrong_answer: ..."
        return out

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": cfg.served_model_name, "object": "model",
                                            "created": int(START_TIME), "owned_by": "cpp2py"}]}

    @app.post("/v1/chat/completions")
    async def chat(req: ChatRequest) -> Any:
        msgs = [{"role": m.role, "content": _text(m.content)} for m in req.messages]
        cap = min(req.max_completion_tokens or req.max_tokens or cfg.max_new_tokens, cfg.max_new_tokens)
        reply = (await wait_for("chat", cap, msgs))
        usage = await asyncio.to_thread(engine.count_tokens, msgs, reply)
        cid, created, model = f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), req.model or cfg.served_model_name
        # Backends mark a reply cut at the token cap (translate's ``Reply.hit_token_cap``).
        finish = "length" if getattr(reply, "hit_token_cap", False) else "stop"
        if req.stream:
            return StreamingResponse(_sse(cid, created, model, reply, finish), media_type="text/event-stream")
        return {"id": cid, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                             "finish_reason": finish, "logprobs": None}],
                "usage": usage}

    @app.get("/", include_in_schema=False)
    async def index() -> Any:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(BodyLimit, max_bytes=cfg.max_body_kb * 1024)
    if cfg.host in LOOPBACK_HOSTS:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost", "[::1]"])
    return app



def _text(content: str | list[dict[str, Any]] | None) -> str:
    """Message content as text: OpenAI clients may send a list of typed parts."""
    if content is None or isinstance(content, str):
        return content or ""
    return "".join(part.get("text", "") for part in content if part.get("type") == "text")


def _sse(cid: str, created: int, model: str, reply: str, finish: str):
    """A streamed answer for clients that ask for one: the whole reply in one chunk, then the end."""
    base = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model}
    for delta, reason in (({"role": "assistant", "content": reply}, None), ({}, finish)):
        chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": reason}]}
        yield f"data: {json.dumps(chunk)}\n\n"
    yield "data: [DONE]\n\n"


def build_translator(cfg: ServeConfig) -> Any:
    """Load the model once, as `cpp2py translate` would with the same options."""
    from cpp2py.translate import TranslateConfig, Translator, make_backend

    tcfg = TranslateConfig(model=cfg.model, adapter=cfg.adapter, backend=cfg.backend, base_url=cfg.base_url,
                           batch_size=cfg.batch_size)
    return Translator(make_backend(tcfg), tcfg)


def run_serve(cfg: ServeConfig) -> None:
    """Load the model, then serve until Ctrl-C."""
    import uvicorn

    if cfg.host not in LOOPBACK_HOSTS:
        sys.stderr.write(f"warning: binding to {cfg.host}: anyone who can reach it can use the model"
                         f"{' and run code in the sandbox (--allow-exec)' if cfg.allow_exec else ''}\n")
    if not STATIC_DIR.joinpath("index.html").is_file():
        raise Cpp2PyError(f"{STATIC_DIR}: the web page is missing from the installed package")
    app = create_app(build_translator(cfg), cfg)
    uvicorn.run(app, host=cfg.host, port=cfg.port, log_level="info")

