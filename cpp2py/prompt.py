"""The prompt format, owned here and nowhere else: training records, generation prompts, code extraction.

Training (``cpp2py.train``) and translation (``cpp2py.generation.translator``, ``cpp2py.serve``) both build their
prompts through this module, and a trained adapter directory records :func:`prompt_spec` in
``prompt.json`` so that a model is always asked the way it was taught.

Two styles:

* ``chat`` — the tokenizer's chat template (Qwen2.5-Coder-Instruct, Llama-3.1-Instruct...). Records are
  conversational prompt/completion pairs; the template's end-of-turn token (the tokenizer's EOS for
  instruct models) closes the completion and is a trained label.
* ``plain`` — for base models without a template: a fixed text prompt; trl appends the tokenizer's EOS.

Either way the answer is one fenced ```python block, which makes extraction robust to chatter from
models that were not fine-tuned.
"""
from __future__ import annotations

import ast
import re
from typing import Any, Literal

PROMPT_VERSION = "cpp2py-prompt-v1"
Style = Literal["chat", "plain"]

SYSTEM = (
    "You translate C++ into Python 3. Keep the names, behaviour and output of the C++ code. "
    "Reply with only the Python code, in one ```python block."
)
USER = "Translate this C++ code to Python:\n```cpp\n{cpp}\n```"
PLAIN = "### C++\n{cpp}\n### Python\n"
REPAIR = (
    "That Python fails a check:\n```\n{feedback}\n```\n"
    "Fix the translation. Reply with only the corrected Python code, in one ```python block."
)


def style_for(tokenizer: Any) -> Style:
    """``chat`` when the tokenizer carries a chat template, else ``plain``."""
    return "chat" if getattr(tokenizer, "chat_template", None) else "plain"


def messages(cpp: str) -> list[dict[str, str]]:
    """The chat messages asking for a translation of ``cpp`` (also what OpenAI-compatible backends get)."""
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER.format(cpp=cpp.strip())}]


def repair_messages(cpp: str, previous: str, feedback: str) -> list[dict[str, str]]:
    """A follow-up turn for the ``--verify`` loop: the failed attempt and what went wrong."""
    return messages(cpp) + [
        {"role": "assistant", "content": fenced(previous)},
        {"role": "user", "content": REPAIR.format(feedback=feedback.strip()[-2000:])},
    ]


def fenced(python: str) -> str:
    return f"```python\n{python.strip()}\n```"


def training_record(cpp: str, python: str, style: Style) -> dict[str, Any]:
    """A trl prompt/completion record: the loss falls on the completion (and its EOS) only."""
    if style == "chat":
        return {"prompt": messages(cpp), "completion": [{"role": "assistant", "content": fenced(python)}]}
    return {"prompt": PLAIN.format(cpp=cpp.strip()), "completion": fenced(python)}


def render(tokenizer: Any, msgs: list[dict[str, str]], style: Style) -> str:
    """The text a local model is given: chat template with the generation prompt, or the plain template.

    In ``plain`` style only the first user turn's C++ is used (repair turns need a chat model).
    """
    if style == "chat":
        return tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    cpp = _cpp_of(msgs)
    return PLAIN.format(cpp=cpp)


def _cpp_of(msgs: list[dict[str, str]]) -> str:
    user = next(m["content"] for m in msgs if m["role"] == "user")
    m = re.search(r"```cpp\n(.*)\n```", user, re.S)
    return m.group(1) if m else user


def prompt_spec(style: Style) -> dict[str, Any]:
    """What an adapter directory records about the prompt it was trained with."""
    return {"version": PROMPT_VERSION, "style": style, "system": SYSTEM, "user": USER, "plain": PLAIN}


_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:\n?```|\Z)", re.S)


def extract_code(reply: str) -> str:
    """The Python in a model's reply.

    Takes the first fenced block tagged python (else the first fenced block; an unclosed fence, as from a
    reply cut at the token cap, runs to the end). With no fence, leading and trailing prose lines are
    dropped while that makes the text parse.
    """
    text = reply.replace("\r\n", "\n")
    if "```" not in text:
        return _trim_prose(text)
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(text)]
    if not blocks:
        return _trim_prose(text.replace("```", ""))
    for lang, body in blocks:
        if lang in ("python", "python3", "py"):
            return body.strip("\n")
    return blocks[0][1].strip("\n")


def _trim_prose(text: str) -> str:
    lines = text.strip("\n").split("\n")
    # Prose before the code, then prose after it: two linear scans keep this cheap on long replies.
    for start in range(len(lines)):
        if parses("\n".join(lines[start:])):
            return "\n".join(lines[start:]).strip("\n")
    for end in range(len(lines) - 1, 0, -1):
        if parses("\n".join(lines[:end])):
            return "\n".join(lines[:end]).strip("\n")
    return "\n".join(lines)


def uncommented(code: str) -> str | None:
    """Code that is all comments, as the program it comments out: a model may comment out its whole
    translation (seen after a C++ file that opens with a comment). The ``#`` of every line after a leading run of
    prose comments (at most ten) is removed, the first run that leaves statements that parse; None when none
    does, or when a line is not a comment."""
    lines = code.split("\n")
    if any(line.strip() and not line.startswith("#") for line in lines):
        return None
    for keep in range(min(len(lines), 10)):
        candidate = "\n".join(lines[:keep] + [re.sub(r"^# ?", "", line) for line in lines[keep:]])
        if holds_statements(candidate):
            return candidate
    return None


def _tree(code: str) -> ast.Module | None:
    # A reply nested too deeply for CPython's parser (a model looping on "-(-(-(...") raises MemoryError or
    # RecursionError, not SyntaxError: it does not parse, and must not end a whole batch job.
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None


def parses(code: str) -> bool:
    return _tree(code) is not None


def holds_statements(code: str) -> bool:
    """Whether ``code`` parses and is more than comments and blank lines: a translation at all."""
    tree = _tree(code)
    return tree is not None and bool(tree.body)
