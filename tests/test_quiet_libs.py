"""Third-party settings medtune makes at start-up: the tokenizer thread pool is off process-wide unless the
user chose, and on only inside medtune's batched tokenizer calls."""

from __future__ import annotations

import os

from medtune import quiet_libs

VAR = "TOKENIZERS_PARALLELISM"


def test_thread_pool_is_on_only_inside_batched_calls(monkeypatch):
    monkeypatch.delenv(VAR, raising=False)
    monkeypatch.setattr(quiet_libs, "_parallelism_ours", False)
    quiet_libs.quiet_third_party()
    assert os.environ[VAR] == "false"
    with quiet_libs.tokenizer_threads():
        assert os.environ[VAR] == "true"
    assert os.environ[VAR] == "false"


def test_a_users_choice_is_kept(monkeypatch):
    for choice in ("false", "true"):
        monkeypatch.setenv(VAR, choice)
        monkeypatch.setattr(quiet_libs, "_parallelism_ours", False)
        quiet_libs.quiet_third_party()
        with quiet_libs.tokenizer_threads():
            assert os.environ[VAR] == choice
        assert os.environ[VAR] == choice
