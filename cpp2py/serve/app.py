"""The HTTP API and web page: translate C++ over HTTP, from OpenAI-compatible clients, or in the browser.

Run as: cpp2py serve [--model M] [--adapter DIR] [--host 127.0.0.1] [--port 8000] [--allow-exec]

The model is loaded once, in :func:`run_serve`, and owned by one worker thread (:class:`~cpp2py.serve.worker.BatchWorker`).
Request handlers never touch it: they queue a job and wait for its future. The worker takes up to
``batch_size`` jobs that arrive within ``batch_wait_ms`` of each other and calls the backend once for
them, so concurrent users share GPU batches and the model is never loaded twice.

Limits, all in :class:`ServeConfig`: ``max_queue`` waiting requests (HTTP 429 beyond it), ``max_body_kb``
per request body and ``max_input_tokens`` per input (413), ``timeout`` seconds per request (504). A request
that times out or whose client disconnects gives its job up: it stops counting against ``max_queue`` at
once, and a backend call all of whose requests were given up is stopped at its next decoding step
(:mod:`cpp2py.cancel`), so one slow request cannot jam the server for the ones after it.

The model ``cpp2py`` on ``/v1/chat/completions``, sent one user message that is only C++ code, translates
it with the translation prompt (:mod:`cpp2py.prompt`) rather than chatting about it.

Safety: the server binds to loopback unless told otherwise, and then only answers requests whose Host
header names the loopback (which defeats DNS-rebinding pages in the user's browser). JSON bodies are
required, so a cross-site HTML form cannot post one. Verify runs model-written code, and only through
:mod:`cpp2py.execution.sandbox`, and only when the server was started with ``allow_exec``; otherwise a verify request
is refused with 403 rather than silently answered unverified. No endpoint takes a file path: the only
files served are the page's own static assets.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.requests import Request  # module level: FastAPI resolves the endpoints' annotations here

from cpp2py import prompt
from cpp2py.generation.backends import Reply
from cpp2py.generation.cpp_source import bare_cpp, check_cpp
from cpp2py.errors import Cpp2PyError
from cpp2py.schema import BenchmarkItem, ServeConfig, TranslateConfig
from cpp2py.serve.worker import BatchWorker, Job, QueueFull

log = logging.getLogger("cpp2py.serve")

STATIC_DIR = Path(__file__).with_name("static")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
START_TIME = time.time()


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


class _Engine:
    """What the worker calls: the translator(s) and the raw backend behind them."""

    def __init__(self, translator_or_backend: Any):
        if hasattr(translator_or_backend, "translate_many"):
            self.translator = translator_or_backend
            self.backend = translator_or_backend.backend
        else:
            from cpp2py.jobs.verify import VerifyingTranslator as Translator

            self.backend = translator_or_backend
            self.translator = Translator(self.backend, TranslateConfig())
        self._verifier = None

    @property
    def verifier(self) -> Any:
        """The same translator with its self-repair loop on (built on first use, sharing the backend)."""
        if self._verifier is None:
            from cpp2py.jobs.verify import VerifyingTranslator as Translator

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


def _verify_item(cpp: str, stdin: str | None, test: str | None) -> BenchmarkItem:
    """What a verify request adds to the oracle built from the C++: program input, and a Python ``test`` run
    on the chosen candidate as a last gate."""
    return BenchmarkItem(id="request", cpp=cpp, stdin=stdin or "", test=test)


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


ERROR_KINDS = {400: "invalid_request_error", 403: "permission_error", 404: "not_found_error",
               413: "request_too_large", 429: "rate_limit_error", 499: "client_closed_request",
               504: "timeout_error"}
DISCONNECT_POLL_S = 0.25   # how often a waiting request checks that its client is still there


class _Api:
    """The endpoints: each validates its request, queues a job for the worker and waits for it."""

    def __init__(self, cfg: ServeConfig, engine: "_Engine", worker: BatchWorker):
        self.cfg, self.engine, self.worker = cfg, engine, worker

    async def wait_for(self, request: Request, kind: str, key: Any, payload: Any) -> Any:
        """The job's result; 429 when the queue is full, 504 past the time limit. A request that ends
        without its result (time limit, client gone, server shutting down) gives its job up."""
        try:
            job = self.worker.submit(kind, key, payload)
        except QueueFull:
            raise HTTPException(429, f"server busy: {self.worker.max_queue} requests already waiting; retry later")
        try:
            return await self._result(request, job)
        except Cpp2PyError as e:
            raise HTTPException(400, str(e))
        finally:
            if not job.future.done():
                self.worker.cancel(job)

    async def _result(self, request: Request, job: Job) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.cfg.timeout
        waiting = asyncio.wrap_future(job.future)
        while (left := deadline - loop.time()) > 0:
            done, _ = await asyncio.wait({waiting}, timeout=min(left, DISCONNECT_POLL_S))
            if done:
                return waiting.result()
            if await request.is_disconnected():
                raise HTTPException(499, "client closed the request")
        raise HTTPException(504, f"request took longer than the server's limit of {self.cfg.timeout:g} s")

    async def check_tokens(self, text: str) -> None:
        """413 for an input over the per-request token limit (the body limit caught larger bytes already)."""
        n = await asyncio.to_thread(self.engine.backend.count_tokens, text)
        if n > self.cfg.max_input_tokens:
            raise HTTPException(413, f"input is {n:,} tokens; this server's limits are {self.cfg.max_input_tokens:,} "
                                     f"tokens and {self.cfg.max_body_kb} KiB per request")

    async def healthz(self) -> dict[str, Any]:
        cfg = self.cfg
        return {"status": "ok", "model": cfg.served_model_name, "allow_exec": cfg.allow_exec,
                "waiting": self.worker.waiting, "max_queue": cfg.max_queue, "batch_size": self.worker.batch_size,
                "max_body_kb": cfg.max_body_kb, "max_input_tokens": cfg.max_input_tokens, "timeout": cfg.timeout,
                "cancelled_calls": self.worker.cancelled_groups}

    async def translate(self, req: TranslateRequest, request: Request) -> dict[str, Any]:
        try:
            check_cpp(req.cpp, "cpp")
        except Cpp2PyError as e:
            raise HTTPException(400, str(e))
        if req.verify and not self.cfg.allow_exec:
            raise HTTPException(403, "verify runs the translation and this server was started without --allow-exec")
        await self.check_tokens(req.cpp)
        payload = {"cpp": req.cpp, "item": _verify_item(req.cpp, req.stdin, req.test) if req.verify else None}
        r = await self.wait_for(request, "translate", req.verify, payload)
        out = {"python": r.python, "parses": r.parses, "verified": r.verified, "repairs": r.repairs,
               "seconds": round(r.seconds, 3), "hit_token_cap": r.hit_token_cap}
        if req.verify:
            out["check"] = r.check   # the last verdict, e.g. "pass: ..." or "wrong_answer: ..."
        return out

    async def models(self) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": self.cfg.served_model_name, "object": "model",
                                            "created": int(START_TIME), "owned_by": "cpp2py"}]}

    async def chat(self, req: ChatRequest, request: Request) -> Any:
        msgs = [{"role": m.role, "content": _text(m.content)} for m in req.messages]
        await self.check_tokens("\n".join(m["content"] for m in msgs))
        cpp = self._bare_cpp(req.model, msgs)
        if cpp is not None:  # the translator model given only code: translate it, as /v1/translate would
            r = await self.wait_for(request, "translate", False, {"cpp": cpp, "item": None})
            msgs, reply = prompt.messages(cpp), Reply(prompt.fenced(r.python), hit_token_cap=r.hit_token_cap)
        else:
            cap = min(req.max_completion_tokens or req.max_tokens or self.cfg.max_new_tokens, self.cfg.max_new_tokens)
            reply = await self.wait_for(request, "chat", cap, msgs)
        usage = await asyncio.to_thread(self.engine.count_tokens, msgs, reply)
        cid, created, model = f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), req.model or self.cfg.served_model_name
        # Backends mark a reply cut at the token cap (translate's ``Reply.hit_token_cap``).
        finish = "length" if getattr(reply, "hit_token_cap", False) else "stop"
        if req.stream:
            from fastapi.responses import StreamingResponse

            return StreamingResponse(_sse(cid, created, model, reply, finish), media_type="text/event-stream")
        return {"id": cid, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                             "finish_reason": finish, "logprobs": None}],
                "usage": usage}

    def _bare_cpp(self, model: str | None, msgs: list[dict[str, str]]) -> str | None:
        """The C++ when this model was sent one user message that is only C++ code, with no instruction."""
        users = [m for m in msgs if m["role"] == "user"]
        if model not in (None, self.cfg.served_model_name) or len(users) != 1 or msgs[-1] is not users[0] \
                or any(m["role"] == "assistant" for m in msgs):
            return None
        return bare_cpp(users[0]["content"])


def _add_error_handlers(app: Any) -> None:
    from fastapi.exceptions import RequestValidationError

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Any:
        return _error(exc.status_code, str(exc.detail), ERROR_KINDS.get(exc.status_code, "server_error"))

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


def create_app(translator_or_backend: Any, cfg: ServeConfig | None = None) -> Any:
    """The FastAPI app around a loaded translator (or a bare backend, wrapped in a default Translator).

    The worker thread starts with the app (lifespan) and stops with it.
    """
    import contextlib

    from fastapi import FastAPI
    from fastapi.responses import FileResponse
    from fastapi.staticfiles import StaticFiles
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
    _add_error_handlers(app)
    api = _Api(cfg, engine, worker)
    app.get("/healthz")(api.healthz)
    app.post("/v1/translate")(api.translate)
    app.get("/v1/models")(api.models)
    app.post("/v1/chat/completions")(api.chat)

    async def index() -> Any:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    app.get("/", include_in_schema=False)(index)
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
    from cpp2py.generation.backends import make_backend
    from cpp2py.jobs.verify import VerifyingTranslator as Translator

    tcfg = TranslateConfig(**cfg.model_section(), batch_size=cfg.batch_size)
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

