"""Input size: the documented maximum is refused before any model work, and splitting is linear.

The attack this guards against (issue 15): a 5 MB C++ file of 125,000 small functions ran for minutes at
4 GB with no output, because splitting re-counted the tokens of the growing piece for every function.
"""
from __future__ import annotations

import io
import json
import sys

import pytest

from cpp2py.generation.cpp_source import MAX_INPUT_BYTES, MAX_INPUT_TOKENS, read_cpp, split_declarations, split_to_fit
from cpp2py.errors import Cpp2PyError


def many_functions(n: int) -> str:
    return "#include <cstdio>\nint total = 0;\n\n" + "".join(
        f"int f{i}(int x) {{ return x + {i}; }}\n" for i in range(n))


class CountingTokenizer:
    """About three characters a token, like the remote backends' estimate; counts its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, text: str) -> int:
        self.calls += 1
        return len(text) // 3 + 1


def test_splitting_counts_each_declarations_tokens_once():
    source = many_functions(3000)
    count = CountingTokenizer()
    pieces = split_to_fit(source, count, limit=200)
    declarations = split_declarations(source).declarations
    assert len(declarations) == 3000
    # Linear: the whole input, the preamble, the separator, then each declaration once.
    assert count.calls == len(declarations) + 3
    assert len(pieces) > 1 and all(len(p) // 3 + 1 <= 200 for p in pieces)
    head = "#include <cstdio>\nint total = 0;\n\n"
    assert all(p.startswith(head) for p in pieces)
    assert [d for p in pieces for d in p[len(head):].split("\n\n")] == declarations   # all, in order, once


def test_an_input_that_fits_is_one_piece_counted_once():
    count = CountingTokenizer()
    assert split_to_fit(many_functions(3), count, limit=10_000) == [many_functions(3)]
    assert count.calls == 1


def test_a_declaration_too_long_for_a_piece_is_refused_by_name():
    source = "int small() { return 1; }\n\nint huge() {\n" + "    x += 1;\n" * 300 + "}\n"
    with pytest.raises(Cpp2PyError, match="one declaration \\('int huge\\(\\) \\{'"):
        split_to_fit(source, CountingTokenizer(), limit=200)


def test_an_input_over_the_token_limit_is_refused_with_both_limits():
    with pytest.raises(Cpp2PyError) as e:
        split_to_fit("int f();", lambda text: MAX_INPUT_TOKENS + 1, limit=1000)
    assert f"{MAX_INPUT_TOKENS + 1:,} tokens" in str(e.value) and f"{MAX_INPUT_TOKENS:,} tokens" in str(e.value)
    assert "\n" not in str(e.value)


@pytest.fixture
def five_mb_file(tmp_path):
    path = tmp_path / "big.cpp"
    path.write_text(many_functions(125_000))
    assert path.stat().st_size > 4_000_000
    return path


@pytest.fixture
def no_model(monkeypatch):
    """Any attempt to load a model fails the test: the size check must come first."""
    from cpp2py.jobs import translate

    def refuse(cfg):
        raise AssertionError("a model was loaded for an input over the size limit")

    monkeypatch.setattr(translate, "make_backend", refuse)


def limit_message(where: str, n_bytes: int) -> str:
    return (f"{where}: input is {n_bytes:,} bytes, over the limit of {MAX_INPUT_BYTES // 1024} KiB and "
            f"{MAX_INPUT_TOKENS:,} tokens per input; translate it in parts (split the file)")


def test_cli_refuses_a_5_mb_file_before_loading_the_model(five_mb_file, no_model, monkeypatch, capsys):
    from cpp2py import cli

    monkeypatch.setattr(sys, "argv", ["cpp2py", "translate", str(five_mb_file)])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    err = capsys.readouterr().err
    assert exit_info.value.code == 1
    assert err == f"error: {limit_message(str(five_mb_file), five_mb_file.stat().st_size)}\n"


def test_library_refuses_a_5_mb_source_before_loading_the_model(five_mb_file, no_model):
    import cpp2py

    text = five_mb_file.read_text()
    with pytest.raises(Cpp2PyError) as e:
        cpp2py.translate(text)
    assert str(e.value) == limit_message("input", len(text.encode()))


def test_stdin_reads_no_more_than_the_limit(monkeypatch):
    class Stdin:
        buffer = io.BytesIO(b"int f() { return 0; }\n" * 250_000)

    monkeypatch.setattr(sys, "stdin", Stdin)
    with pytest.raises(Cpp2PyError, match="<stdin>: input is 524,289 bytes"):
        read_cpp("-")
    assert Stdin.buffer.tell() == MAX_INPUT_BYTES + 1


def test_jsonl_record_over_the_limit_is_refused_before_the_model_loads(tmp_path, no_model):
    from cpp2py.jobs.translate import translate_jsonl
    from cpp2py.schema import TranslateConfig

    bench = tmp_path / "bench.jsonl"
    big = many_functions(30_000)
    bench.write_text(json.dumps({"id": "a", "cpp": "int f();"}) + "\n" + json.dumps({"id": "b", "cpp": big}) + "\n")
    with pytest.raises(Cpp2PyError) as e:
        translate_jsonl(bench, tmp_path / "out.jsonl", TranslateConfig())
    assert str(e.value) == limit_message(f"{bench}: record 2", len(big.encode()))
    assert not (tmp_path / "out.jsonl").exists()


def test_an_input_at_the_limit_is_accepted():
    from cpp2py.generation.cpp_source import check_cpp

    text = "int f();" + " " * (MAX_INPUT_BYTES - len("int f();") - 1) + "\n"
    assert check_cpp(text, "input") == text
