"""The seed path ``jumpax.transitions``: re-exports :mod:`jumpax.learning._transitions`."""

from .learning._transitions import (  # noqa: F401
    TransitionBatch,
)

__all__ = [
    "TransitionBatch",
]
