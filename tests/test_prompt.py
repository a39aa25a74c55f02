import pytest

from cpp2py import prompt


@pytest.mark.parametrize(
    "reply",
    [
        "```python\ndef f(a):\n    return a\n```",
        "Here is the translation:\n```python\ndef f(a):\n    return a\n```\nIt returns a.",
        "```py\ndef f(a):\n    return a\n```",
        "```python\ndef f(a):\n    return a",  # cut at the token cap: no closing fence
        "Sure.\ndef f(a):\n    return a\n",  # no fence, prose before
        "def f(a):\n    return a\nThat is all.",  # no fence, prose after
    ],
)
def test_extract_code_variants(reply):
    assert prompt.extract_code(reply) == "def f(a):\n    return a"


def test_extract_prefers_python_block():
    reply = "```cpp\nint f();\n```\nand\n```python\nx = 1\n```"
    assert prompt.extract_code(reply) == "x = 1"


def test_training_record_chat_and_plain():
    chat = prompt.training_record("int f() { return 1; }", "def f():\n    return 1", "chat")
    assert chat["prompt"][0]["role"] == "system"
    assert "int f()" in chat["prompt"][1]["content"]
    assert chat["completion"][0]["content"].startswith("```python\ndef f()")
    plain = prompt.training_record("int f() { return 1; }", "def f():\n    return 1", "plain")
    assert plain["prompt"].endswith("### Python\n")
    assert prompt.extract_code(plain["completion"]) == "def f():\n    return 1"


def test_render_uses_chat_template(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert prompt.style_for(tok) == "chat"
    text = prompt.render(tok, prompt.messages("int x;"), "chat")
    assert text.endswith("<|im_start|>assistant\n") and "int x;" in text


def test_render_plain(tiny_plain_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_plain_model_dir)
    assert prompt.style_for(tok) == "plain"
    text = prompt.render(tok, prompt.messages("int x;"), "plain")
    assert text == "### C++\nint x;\n### Python\n"
