"""Jobs: the translate job (input dispatch, resume), sharded multi-GPU translation, the --verify loop, and
the evaluate job."""
