"""Check many records on several cores: each worker process compiles the policy once, then checks its share.

One check is pure Python (the GIL rules out threads), so a batch of answers (an evaluation's samples, a
gateway's backlog) scales with processes. Results come back in input order and are the same Decision objects
one process would produce.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medtune.safety.decision import Decision
from medtune.safety.engine import PolicyEngine


@dataclass(frozen=True)
class CheckRequest:
    """The arguments of one `PolicyEngine.check` call."""

    output: str | None
    input: str | None = None
    context: Any = None
    task: str | None = None
    model_tags: tuple[str, ...] = ()


_WORKER_ENGINE: PolicyEngine | None = None


def _start_worker(policy: str, exclude_rules: tuple[str, ...]) -> None:
    global _WORKER_ENGINE
    _WORKER_ENGINE = PolicyEngine.from_file(policy, exclude_rules=exclude_rules)


def _check_chunk(chunk: list[CheckRequest]) -> list[Decision]:
    assert _WORKER_ENGINE is not None, "worker started without its engine"
    return [run_request(_WORKER_ENGINE, request) for request in chunk]


def run_request(engine: PolicyEngine, request: CheckRequest) -> Decision:
    return engine.check(
        request.output,
        input=request.input,
        context=request.context,
        task=request.task,
        model_tags=request.model_tags,
    )


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class PolicyPool:
    """Worker processes that each hold the compiled policy; `check` fans a batch out and gathers it in order.
    Keep one open across batches (a gateway, an evaluation) so start-up and compiling are paid once."""

    def __init__(self, policy: Path | str, workers: int, exclude_rules: Sequence[str] = ()) -> None:
        self.workers = workers
        self._pool = ProcessPoolExecutor(
            max_workers=workers, initializer=_start_worker, initargs=(str(policy), tuple(exclude_rules))
        )

    def check(self, requests: Sequence[CheckRequest]) -> list[Decision]:
        size = max(1, len(requests) // (self.workers * 8))  # a few chunks per worker evens out slow answers
        chunks = [list(requests[i : i + size]) for i in range(0, len(requests), size)]
        return [decision for chunk in self._pool.map(_check_chunk, chunks) for decision in chunk]

    def __enter__(self) -> PolicyPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown()


def check_many(
    policy: Path | str,
    requests: Sequence[CheckRequest],
    workers: int = 1,
    exclude_rules: Sequence[str] = (),
) -> list[Decision]:
    """Decisions for `requests`, in order, computed by `workers` processes (1: in this process)."""
    if workers <= 1 or len(requests) < 2 * workers:
        engine = PolicyEngine.from_file(policy, exclude_rules=exclude_rules)
        return [run_request(engine, r) for r in requests]
    with PolicyPool(policy, workers, exclude_rules) as pool:
        return pool.check(requests)
