"""cpp2py serve: API contract and error codes, the openai client on loopback, concurrency, the page in Chromium.

A fake backend stands in for the model (through the same ``generate`` interface), so these tests are fast;
one test runs the tiny random model through the real ``HFBackend``.
"""
from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from cpp2py import prompt
from cpp2py.serve import ServeConfig, create_app

LOOPBACK = "http://127.0.0.1"
ADD = "int add(int a, int b) { return a + b; }"


def expected_python(cpp: str) -> str:
    """What the fake model answers for ``cpp``: derived from the input, so mixed-up answers are caught."""
    name = re.search(r"(\w+)\s*\(", cpp).group(1)
    return f"def {name}():\n    return {len(cpp)}"


class FakeBackend:
    """A scripted model: answers from the C++ in the last user message; can be slowed down or held."""

    def __init__(self, delay: float = 0.0, gate: threading.Event | None = None):
        self.delay, self.gate = delay, gate
        self.calls: list[tuple[int, int | None]] = []   # (batch size, max_new_tokens) per call
        self.conversations: list[list[dict]] = []       # every conversation the model was given
        self.entered = threading.Event()

    context_window = 4096

    def count_tokens(self, text):
        return len(text) // 3 + 1

    def generate(self, conversations, *, decoding, max_new_tokens=None):
        self.calls.append((len(conversations), max_new_tokens))
        self.conversations += conversations
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        time.sleep(self.delay)
        replies = []
        for conv in conversations:
            user = conv[-1]["content"]
            m = re.search(r"```cpp\n(.*)\n```", user, re.S)
            replies.append(f"Sure:\n```python\n{expected_python(m.group(1))}\n```" if m else f"echo: {user}")
        return replies


@contextlib.contextmanager
def client(backend=None, **cfg):
    from fastapi.testclient import TestClient

    backend = backend or FakeBackend()
    with TestClient(create_app(backend, ServeConfig(**cfg)), base_url=LOOPBACK) as c:
        c.backend = backend
        yield c


@contextlib.contextmanager
def live_server(backend, **cfg):
    """The app under uvicorn in a thread, on a free loopback port; yields the base URL."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(backend, ServeConfig(port=port, **cfg)), host="127.0.0.1", port=port,
                            log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        assert time.time() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def error_of(resp: httpx.Response, status: int) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]["message"]


# --- /v1/translate ---

def test_translate_returns_the_models_python_and_its_checks():
    with client() as c:
        r = c.post("/v1/translate", json={"cpp": ADD, "verify": False})
    assert r.status_code == 200
    body = r.json()
    assert body["python"] == expected_python(ADD)
    assert body["parses"] is True and body["verified"] is None and body["repairs"] == 0
    assert isinstance(body["seconds"], float) and body["seconds"] >= 0


@pytest.mark.parametrize("cpp, why", [("", "empty"), ("  \n\t", "empty"), ("print('hi')\nx = 1\n", "not look like C++"),
                                      ("int\x00main", "NUL")])
def test_translate_refuses_input_that_is_not_cpp(cpp, why):
    with client() as c:
        msg = error_of(c.post("/v1/translate", json={"cpp": cpp}), 400)
        assert c.backend.calls == []
    assert why in msg


@pytest.mark.parametrize("body, headers", [
    (b"{not json", {"content-type": "application/json"}),
    (b'["a list"]', {"content-type": "application/json"}),
    (b'{"cpp": "int f();"}', {"content-type": "text/plain"}),   # what a cross-site form could send
])
def test_translate_refuses_a_body_that_is_not_a_json_object(body, headers):
    with client() as c:
        assert "JSON" in error_of(c.post("/v1/translate", content=body, headers=headers), 400)


@pytest.mark.parametrize("body, field", [({}, "cpp"), ({"cpp": 3}, "cpp"), ({"cpp": ADD, "verify": [1]}, "verify"),
                                         ({"cpp": ADD, "verfy": True}, "verfy")])
def test_translate_names_the_bad_field_with_422(body, field):
    with client() as c:
        assert field in error_of(c.post("/v1/translate", json=body), 422)


def test_verify_without_allow_exec_is_forbidden_and_runs_nothing():
    with client() as c:
        msg = error_of(c.post("/v1/translate", json={"cpp": ADD, "verify": True}), 403)
        assert c.backend.calls == []
    assert "--allow-exec" in msg


def test_body_over_the_limit_gets_413_with_or_without_content_length():
    with client(max_body_kb=1) as c:
        big = {"cpp": "int f() { return 0; }\n" + "// pad\n" * 400}
        assert "limit" in error_of(c.post("/v1/translate", json=big), 413)

        def chunks():  # no Content-Length: the limit must hold while reading
            yield b'{"cpp": "'
            for _ in range(300):
                yield b"int x = 0; "
            yield b'"}'

        assert error_of(c.post("/v1/translate", content=chunks(), headers={"content-type": "application/json"}), 413)
        assert c.backend.calls == []
        assert c.post("/v1/translate", json={"cpp": ADD}).status_code == 200


def test_request_over_the_time_limit_gets_504_and_the_server_goes_on():
    gate = threading.Event()
    with client(FakeBackend(gate=gate), timeout=0.3) as c:
        assert "limit" in error_of(c.post("/v1/translate", json={"cpp": ADD}), 504)
        gate.set()
        r = c.post("/v1/translate", json={"cpp": ADD})
        assert r.status_code == 200 and r.json()["python"] == expected_python(ADD)


def test_a_backend_failure_is_a_json_500_for_that_request_only():
    class Broken(FakeBackend):
        def generate(self, conversations, **kw):
            if any("boom" in c[-1]["content"] for c in conversations):
                raise RuntimeError("CUDA out of memory")
            return super().generate(conversations, **kw)

    from fastapi.testclient import TestClient

    with TestClient(create_app(Broken(), ServeConfig()), base_url=LOOPBACK, raise_server_exceptions=False) as c:
        assert "out of memory" in error_of(c.post("/v1/translate", json={"cpp": "int boom() { return 1; }"}), 500)
        assert c.post("/v1/translate", json={"cpp": ADD}).status_code == 200


# --- OpenAI-compatible API, health, page ---

def test_chat_completions_contract_ignores_unknown_fields_and_caps_tokens():
    with client(max_new_tokens=64) as c:
        r = c.post("/v1/chat/completions", json={
            "model": "whatever", "temperature": 0.2, "top_p": 0.9, "user": "me", "seed": 1, "max_tokens": 10_000,
            "messages": [{"role": "system", "content": "be brief"},
                         {"role": "user", "content": [{"type": "text", "text": "hello"}]}]})
        assert r.status_code == 200, r.text
        body = r.json()
        assert c.backend.calls == [(1, 64)]
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "echo: hello"}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] is None   # a fake backend has no tokenizer to count with


@pytest.mark.parametrize("body", [{"messages": []}, {"model": "m"}, {"messages": [{"content": "x"}]},
                                  {"messages": [{"role": "user", "content": "x"}], "n": 2}])
def test_chat_completions_rejects_malformed_requests(body):
    with client() as c:
        error_of(c.post("/v1/chat/completions", json=body), 422)


def test_models_health_page_and_static_files():
    with client(allow_exec=False, batch_size=4) as c:
        models = c.get("/v1/models").json()
        assert models["object"] == "list" and models["data"][0]["id"] == "cpp2py"
        health = c.get("/healthz").json()
        assert health["status"] == "ok" and health["allow_exec"] is False and health["batch_size"] == 4
        page = c.get("/")
        assert page.status_code == 200 and 'id="translate"' in page.text
        for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text):
            assert c.get(asset).status_code == 200, asset
        assert c.get("/static/../serve.py").status_code == 404
        assert c.get("/static/%2e%2e/serve.py").status_code == 404


def test_loopback_server_refuses_foreign_host_headers():
    """A DNS-rebinding page reaches 127.0.0.1 under its own host name: refuse it."""
    with client() as c:
        assert c.get("/healthz", headers={"host": "evil.example"}).status_code == 400
        assert c.get("/healthz", headers={"host": "localhost:8000"}).status_code == 200


def test_openai_client_against_the_running_server():
    import openai

    with live_server(FakeBackend()) as url:
        oc = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        assert [m.id for m in oc.models.list()] == ["cpp2py"]
        from cpp2py import prompt

        done = oc.chat.completions.create(model="cpp2py", messages=prompt.messages(ADD), temperature=0.0,
                                          max_tokens=128)
        assert prompt.extract_code(done.choices[0].message.content) == expected_python(ADD)
        assert done.choices[0].finish_reason == "stop"
        stream = oc.chat.completions.create(model="cpp2py", messages=prompt.messages(ADD), stream=True)
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
        assert prompt.extract_code(text) == expected_python(ADD)
        with pytest.raises(openai.UnprocessableEntityError):
            oc.chat.completions.create(model="cpp2py", messages=[])


def test_cpp2py_openai_backend_translates_a_benchmark_through_the_server(tmp_path, monkeypatch):
    """The client half of the vLLM path (docs/scale.md): `cpp2py translate --backend openai --base-url`
    against an OpenAI-compatible server, here cpp2py's own (vLLM cannot be installed on our machines)."""
    import json

    from cpp2py.generation.backends import OpenAIBackend
    from cpp2py.jobs.translate import translate_jsonl
    from cpp2py.schema import TranslateConfig

    for var in ("CPP2PY_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    sources = [f"int f{i}(int x) {{ return x * {i}; }}" for i in range(6)]
    bench, preds = tmp_path / "bench.jsonl", tmp_path / "predictions.jsonl"
    bench.write_text("".join(json.dumps({"id": f"p{i}", "cpp": c}) + "\n" for i, c in enumerate(sources)))
    backend = FakeBackend()
    with live_server(backend, batch_size=4, batch_wait_ms=20) as url:
        cfg = TranslateConfig(backend="openai", base_url=f"{url}/v1", model="cpp2py", concurrency=3)
        translate_jsonl(bench, preds, cfg, backend=OpenAIBackend(cfg))
    rows = [json.loads(line) for line in preds.read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"p{i}" for i in range(6)]
    assert [r["prediction"] for r in rows] == [expected_python(c) for c in sources]
    assert all(r["parses"] for r in rows) and sum(n for n, _ in backend.calls) == 6


# --- concurrency ---

def test_twenty_concurrent_requests_are_all_answered_in_shared_batches():
    backend = FakeBackend(delay=0.1)
    sources = [f"int f{i}(int x) {{ return x + {i}; }}" for i in range(20)]
    with live_server(backend, batch_size=8, batch_wait_ms=20) as url, httpx.Client(timeout=30) as h:
        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(lambda cpp: h.post(f"{url}/v1/translate", json={"cpp": cpp}), sources))
    assert [a.status_code for a in answers] == [200] * 20
    assert [a.json()["python"] for a in answers] == [expected_python(s) for s in sources]
    sizes = [n for n, _ in backend.calls]
    assert sum(sizes) == 20 and max(sizes) <= 8 and len(sizes) < 20   # batched, nothing lost or repeated


def test_queue_overflow_gets_429_and_queued_requests_still_finish():
    gate = threading.Event()
    backend = FakeBackend(gate=gate)
    with live_server(backend, batch_size=1, max_queue=2, batch_wait_ms=0) as url, httpx.Client(timeout=30) as h:
        post = lambda i: h.post(f"{url}/v1/translate", json={"cpp": f"int g{i}() {{ return {i}; }}"})  # noqa: E731
        with ThreadPoolExecutor(3) as pool:
            running = pool.submit(post, 0)
            assert backend.entered.wait(10)          # request 0 holds the model...
            queued = [pool.submit(post, i) for i in (1, 2)]
            deadline = time.time() + 10
            while h.get(f"{url}/healthz").json()["waiting"] < 2:   # ...and 1, 2 fill the queue
                assert time.time() < deadline
                time.sleep(0.02)
            assert "busy" in error_of(post(3), 429)
            gate.set()
            done = [running.result(), *(q.result() for q in queued)]
    assert [d.status_code for d in done] == [200, 200, 200]
    assert [d.json()["python"] for d in done] == [expected_python(f"int g{i}() {{ return {i}; }}") for i in range(3)]


# --- misuse: slow requests, given-up requests, oversized requests ---

class SteppingBackend(FakeBackend):
    """Generates in steps and checks for cancellation at each, as HFBackend's stopping criterion does.
    A source naming ``slow`` takes ``slow_steps`` steps of 20 ms; anything else one step."""

    def __init__(self, slow_steps: int = 500):
        super().__init__()
        self.slow_steps = slow_steps
        self.stopped = threading.Event()   # set when a call was cancelled part-way
        self.finished_slow = 0

    def generate(self, conversations, *, decoding, max_new_tokens=None):
        from cpp2py.cancel import Cancelled, raise_if_cancelled

        slow = any("slow" in c[-1]["content"] for c in conversations)
        self.entered.set()
        try:
            for _ in range(self.slow_steps if slow else 1):
                raise_if_cancelled()
                time.sleep(0.02)
        except Cancelled:
            self.stopped.set()
            raise
        self.finished_slow += slow
        return super().generate(conversations, decoding=decoding, max_new_tokens=max_new_tokens)


SLOW = "int slow() { return 0; }"


def test_a_timed_out_request_stops_its_generation():
    backend = SteppingBackend()
    with client(backend, timeout=0.3) as c:
        assert "limit" in error_of(c.post("/v1/translate", json={"cpp": SLOW}), 504)
        assert backend.stopped.wait(2), "the model kept generating for a request nobody waits for"
        assert backend.finished_slow == 0
        assert c.get("/healthz").json()["cancelled_calls"] == 1
        r = c.post("/v1/translate", json={"cpp": ADD})
        assert r.status_code == 200 and r.json()["python"] == expected_python(ADD)


def test_timed_out_requests_free_their_queue_slots_so_no_429_storm_follows():
    """The reported jam: one long request holds the model, the requests queued behind it time out, and
    before the fix they kept counting against --max-queue, so every later request got 429."""
    backend = SteppingBackend()
    with live_server(backend, timeout=0.5, max_queue=2, batch_size=1, batch_wait_ms=0) as url, \
            httpx.Client(timeout=30) as h:
        post = lambda cpp: h.post(f"{url}/v1/translate", json={"cpp": cpp})  # noqa: E731
        with ThreadPoolExecutor(3) as pool:
            first = pool.submit(post, SLOW)
            assert backend.entered.wait(10)
            queued = [pool.submit(post, f"int slow{i}() {{ return {i}; }}") for i in (1, 2)]
            statuses = [first.result().status_code, *(q.result().status_code for q in queued)]
        assert statuses == [504, 504, 504]
        assert h.get(f"{url}/healthz").json()["waiting"] == 0
        answers = [post(f"int f{i}() {{ return {i}; }}") for i in range(4)]
    assert [a.status_code for a in answers] == [200] * 4
    assert backend.finished_slow == 0


def test_a_client_that_disconnects_stops_its_generation():
    backend = SteppingBackend()
    with live_server(backend, timeout=60) as url:
        with httpx.Client(timeout=0.3) as impatient, pytest.raises(httpx.ReadTimeout):
            impatient.post(f"{url}/v1/translate", json={"cpp": SLOW})   # gives up and closes the connection
        assert backend.stopped.wait(5), "the model kept generating for a client that left"
        with httpx.Client(timeout=30) as h:
            assert h.post(f"{url}/v1/translate", json={"cpp": ADD}).status_code == 200


def test_a_request_shared_with_a_live_one_is_not_stopped():
    """Cancellation stops a backend call only when every request in it was given up on."""
    gate = threading.Event()
    backend = FakeBackend(gate=gate)
    # Both requests must reach the worker inside one batching window, and the impatient one must give up only
    # after the (gated) call has started: a wide window and a later timeout keep that true on a loaded machine.
    with live_server(backend, batch_size=4, batch_wait_ms=1000, timeout=30) as url:
        with ThreadPoolExecutor(2) as pool, httpx.Client(timeout=30) as patient:
            kept = pool.submit(patient.post, f"{url}/v1/translate", json={"cpp": ADD})
            with httpx.Client(timeout=3.0) as impatient, pytest.raises(httpx.ReadTimeout):
                impatient.post(f"{url}/v1/translate", json={"cpp": "int g() { return 2; }"})
            gate.set()
            assert kept.result().status_code == 200
    assert backend.calls[0][0] == 2   # both were in the call that went on


def test_input_over_the_token_limit_gets_413_naming_both_limits():
    long_cpp = "int f() {\n" + "    x += 1;\n" * 40 + "}"   # about 160 tokens for the fake's count
    with client(max_input_tokens=100, max_body_kb=64) as c:
        msg = error_of(c.post("/v1/translate", json={"cpp": long_cpp}), 413)
        chat = c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": long_cpp}]})
        assert c.backend.calls == []
        assert c.post("/v1/translate", json={"cpp": ADD}).status_code == 200
    assert "100 tokens" in msg and "64 KiB" in msg and str(c.backend.count_tokens(long_cpp)) in msg
    assert "100 tokens" in error_of(chat, 413)


def test_a_5_mb_request_is_refused_before_it_is_read_whole():
    with client() as c:
        big = "int f() { return 0; }\n" * 230_000
        assert "256 KiB" in error_of(c.post("/v1/translate", json={"cpp": big}), 413)
        assert c.backend.calls == []


def test_tiny_model_generation_stops_at_the_step_after_cancellation(tiny_model_dir):
    from cpp2py.generation.backends import HFBackend
    from cpp2py.cancel import Cancelled, cancel_scope
    from cpp2py.generation.backends import make_backend
    from cpp2py.schema import TranslateConfig

    backend: HFBackend = make_backend(TranslateConfig(model=str(tiny_model_dir), device="cpu"))
    decoding = TranslateConfig().decoding()
    checks = 0

    def after_three_steps() -> bool:
        nonlocal checks
        checks += 1
        return checks > 4   # one check before the batch, then one per decoding step

    with cancel_scope(after_three_steps), pytest.raises(Cancelled):
        backend.generate([[{"role": "user", "content": ADD}]], decoding=decoding, max_new_tokens=200)
    assert checks == 5
    # No scope: the same backend generates to its budget as before.
    reply = backend.generate([[{"role": "user", "content": ADD}]], decoding=decoding, max_new_tokens=5)[0]
    assert isinstance(reply, str)


# --- chat completions given bare C++ ---

def test_chat_with_bare_cpp_for_the_cpp2py_model_translates_it():
    from cpp2py import prompt

    with client() as c:
        r = c.post("/v1/chat/completions", json={"model": "cpp2py", "messages": [{"role": "user", "content": ADD}]})
        fenced = c.post("/v1/chat/completions", json={"messages": [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": f"```cpp\n{ADD}\n```"}]})
        assert c.backend.conversations == [prompt.messages(ADD)] * 2   # the translation prompt, nothing else
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == prompt.fenced(expected_python(ADD))
    assert fenced.json()["choices"][0]["message"]["content"] == prompt.fenced(expected_python(ADD))


@pytest.mark.parametrize("body", [
    {"model": "cpp2py", "messages": [{"role": "user", "content": f"Explain this code:\n```cpp\n{ADD}\n```"}]},
    {"model": "cpp2py", "messages": [{"role": "user", "content": f"What does this do?\n{ADD}"}]},
    {"model": "another-model", "messages": [{"role": "user", "content": ADD}]},
    {"model": "cpp2py", "messages": [{"role": "user", "content": ADD}, {"role": "assistant", "content": "ok"},
                                     {"role": "user", "content": ADD}]},
])
def test_chat_that_asks_something_or_names_another_model_is_answered_as_chat(body):
    with client() as c:
        assert c.post("/v1/chat/completions", json=body).status_code == 200
        assert c.backend.conversations == [body["messages"]]   # passed on as sent


# --- verify (runs code: only with allow_exec, only in the sandbox) ---

EVEN_SUM = """#include <iostream>
int main() {
    int total = 0;
    for (int x = 1; x <= 6; x++) if (x % 2 == 0) total += x;
    std::cout << total << std::endl;
    return 0;
}"""


class WrongThenRight(FakeBackend):
    """Answers a first translation that prints the wrong number, and a right one when asked to repair."""

    def generate(self, conversations, *, decoding, max_new_tokens=None):
        self.calls.append((len(conversations), max_new_tokens))
        return ["```python\nprint(12)\n```" if len(conv) > 2 else "```python\nprint(5)\n```"
                for conv in conversations]


def test_verify_with_allow_exec_repairs_against_the_cpp_programs_output():
    with client(WrongThenRight(), allow_exec=True) as c:
        assert c.get("/healthz").json()["allow_exec"] is True
        body = c.post("/v1/translate", json={"cpp": EVEN_SUM, "verify": True}).json()
    assert body["python"] == "print(12)"
    assert body["verified"] is True and body["repairs"] == 1 and body["check"].startswith("pass")


def test_verify_reports_a_failure_it_could_not_repair():
    class AlwaysWrong(FakeBackend):
        def generate(self, conversations, **kw):
            return ["```python\nprint(5)\n```"] * len(conversations)

    with client(AlwaysWrong(), allow_exec=True) as c:
        body = c.post("/v1/translate", json={"cpp": EVEN_SUM, "verify": True}).json()
    assert body["verified"] is False and body["repairs"] >= 1 and body["check"].startswith("wrong_answer")


def test_a_refused_input_does_not_fail_the_requests_batched_with_it():
    gate = threading.Event()
    backend = FakeBackend(gate=gate)
    huge = "int huge() {\n" + "    x += 1;\n" * 400 + "    return x;\n}"   # one declaration over the window
    with live_server(backend, batch_size=8, batch_wait_ms=50) as url, httpx.Client(timeout=30) as h:
        post = lambda cpp: h.post(f"{url}/v1/translate", json={"cpp": cpp})  # noqa: E731
        with ThreadPoolExecutor(3) as pool:
            first = pool.submit(post, ADD)
            assert backend.entered.wait(10)
            batch = [pool.submit(post, huge), pool.submit(post, "int ok() { return 2; }")]
            while h.get(f"{url}/healthz").json()["waiting"] < 2:
                time.sleep(0.02)
            gate.set()
            refused, ok = (f.result() for f in batch)
    assert first.result().status_code == 200
    assert "declaration" in error_of(refused, 400)
    assert ok.status_code == 200 and ok.json()["python"] == expected_python("int ok() { return 2; }")


# --- the real backend, with the tiny random model ---

def test_tiny_model_through_the_real_hf_backend(tiny_model_dir):
    from fastapi.testclient import TestClient

    from cpp2py.generation.backends import make_backend
    from cpp2py.jobs.verify import VerifyingTranslator as Translator
    from cpp2py.schema import TranslateConfig

    # A random model never writes Python: short replies and no retries keep this test fast.
    tcfg = TranslateConfig(model=str(tiny_model_dir), backend="hf", device="cpu", batch_size=2, max_new_tokens=8,
                           retries=0)
    with TestClient(create_app(Translator(make_backend(tcfg), tcfg), ServeConfig(batch_size=2)),
                    base_url=LOOPBACK) as c:
        with ThreadPoolExecutor(3) as pool:
            answers = list(pool.map(lambda cpp: c.post("/v1/translate", json={"cpp": cpp}),
                                    [ADD, "int f() { return 1; }", "int g(int x) { return x * x; }"]))
        chat = c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "int f();"}],
                                                    "max_tokens": 8})
    for a in answers:
        assert a.status_code == 200, a.text
        body = a.json()
        assert body["parses"] == prompt.parses(body["python"])
        assert body["verified"] is None and body["repairs"] == 0  # verify was not asked for
    assert chat.status_code == 200, chat.text
    usage = chat.json()["usage"]
    assert usage["prompt_tokens"] > 0 and usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


# --- the command line ---

def test_serve_command_passes_its_options(monkeypatch):
    from typer.testing import CliRunner

    import cpp2py.serve
    from cpp2py.cli import app

    seen = []
    monkeypatch.setattr(cpp2py.serve, "run_serve", seen.append)
    result = CliRunner().invoke(app, ["serve", "--model", "m", "--port", "9001", "--batch-size", "3",
                                      "--max-queue", "5", "--max-body-kb", "7", "--max-input-tokens", "99", "--timeout", "2.5",
                                      "--allow-exec"])
    assert result.exit_code == 0, result.output
    assert seen == [ServeConfig(model="m", port=9001, batch_size=3, max_queue=5, max_body_kb=7, max_input_tokens=99,
                                timeout=2.5, allow_exec=True)]


# --- the page in a real browser ---

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextlib.contextmanager
def chromium_page(tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path="/usr/bin/chromium", headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 720})
        try:
            yield ctx.new_page()
        finally:
            ctx.close()


@pytest.mark.browser
def test_page_translates_cpp_typed_into_the_editor(tmp_path):
    with live_server(FakeBackend(delay=0.3)) as url, chromium_page(tmp_path) as page:
        page.goto(url + "/")
        page.fill("#cpp", ADD)
        page.click("#translate")
        page.wait_for_selector("#translate.busy", timeout=5000)     # the loading state shows
        page.wait_for_function("document.querySelector('#python-code').textContent.length > 0", timeout=10000)
        assert page.inner_text("#python-code") == expected_python(ADD)
        assert page.locator("#python-code .tok-kw").first.inner_text() == "def"   # highlighted
        assert "parses" in page.inner_text("#badges")
        assert page.is_enabled("#copy") and page.is_enabled("#download")
        assert page.is_disabled("#verify")     # the server runs no code without --allow-exec
        with page.expect_download() as dl:
            page.click("#download")
        assert dl.value.suggested_filename == "translation.py"
        page.fill("#cpp", "print('not C++')")
        page.click("#translate")
        page.wait_for_selector("#error:not([hidden])", timeout=5000)
        assert "does not look like C++" in page.inner_text("#error")
