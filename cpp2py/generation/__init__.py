"""Generation engines behind the :class:`cpp2py.backends.Backend` interface (the hf and openai backends
still live in :mod:`cpp2py.backends`)."""
