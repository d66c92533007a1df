"""Silence third-party chatter (weight-loading bars, optional-kernel notices) so medtune's own output reads.

Only environment variables and logger levels: nothing here imports a heavy library.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

_PARALLELISM = "TOKENIZERS_PARALLELISM"
_parallelism_ours = False  # True when medtune, not the user, switched the tokenizer thread pool off


def quiet_third_party() -> None:
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    global _parallelism_ours
    if _PARALLELISM not in os.environ:
        # Off by default: with it on, any later fork (a subprocess) prints a deadlock warning.
        os.environ[_PARALLELISM] = "false"
        _parallelism_ours = True
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=r".*is_gradient_checkpointing.*")


@contextmanager
def tokenizer_threads() -> Iterator[None]:
    """The fast tokenizer may use its thread pool inside the block (a batch of many strings encodes ~1.5x
    faster on two cores), unless the user set TOKENIZERS_PARALLELISM themselves. The variable stays set
    afterwards, so a later fork is not warned about."""
    if not _parallelism_ours:
        yield
        return
    os.environ[_PARALLELISM] = "true"
    try:
        yield
    finally:
        os.environ[_PARALLELISM] = "false"
