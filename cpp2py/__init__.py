"""cpp2py: fine-tune an LLM with QLoRA to translate C++ into Python, translate with it, and measure it.

The package is a pipeline of stages that talk through JSONL files:

    data (prepare) -> train -> translate -> evaluate
                                  \\-> serve

Heavy libraries (torch, transformers, bitsandbytes) are imported inside the functions that need them,
so importing the package and `cpp2py --help` stay fast.
"""
from __future__ import annotations

__version__ = "0.1.0"


def translate(cpp_source: str, **kwargs) -> str:
    """Translate one C++ source string into Python with the default (or a given) model.

    Keyword arguments are those of :class:`cpp2py.schema.TranslateConfig`.
    """
    from cpp2py.jobs.translate import translate_source

    return translate_source(cpp_source, **kwargs)
