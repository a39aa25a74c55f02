"""Generation: backends (a local transformers model or an OpenAI-compatible server), model loading and
install, C++ source handling, and the translation core (translator.py)."""
