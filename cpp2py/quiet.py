"""Third-party output in normal runs: the libraries under cpp2py say things a user cannot act on.

Run as: (the command line calls it) ``quiet.configure(verbose=False)``; ``cpp2py --verbose ...`` or
``CPP2PY_VERBOSE=1`` shows it all (the variable also carries the choice into relaunched processes).

Silenced unless verbose: bitsandbytes' ``Failed to load CPU gemm_4bit_forward ... pip install kernels``
(logged when it is imported on an AVX512-BF16 CPU; its fallback works), transformers' deprecation of
``is_gradient_checkpointing`` (peft reads it while wrapping a model), transformers' and the hub's
progress bars (the weight-loading bar) and their info/warning logs. Errors still show.

Environment variables are set (unless the user set them) rather than the libraries imported here, so
this costs nothing when no model is loaded; the libraries read them when they are first imported.
"""
from __future__ import annotations

import logging
import os
import sys
import warnings

_ENV = {"TRANSFORMERS_VERBOSITY": "error", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}


def configure(verbose: bool) -> None:
    if verbose or os.environ.get("CPP2PY_VERBOSE") == "1":
        os.environ["CPP2PY_VERBOSE"] = "1"
        return
    for name, value in _ENV.items():
        os.environ.setdefault(name, value)
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    if "transformers" in sys.modules:  # imported before this call: its settings are read already
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
