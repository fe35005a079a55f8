"""Long lists of ids, queried in slices: `IN (...)` stays within every database's parameter limits."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
BATCH = 500


def batches(values: Iterable[T], size: int = BATCH) -> Iterator[list[T]]:
    """The values, sorted and without repeats, `size` at a time."""
    ordered = sorted(set(values))
    for start in range(0, len(ordered), size):
        yield ordered[start:start + size]
