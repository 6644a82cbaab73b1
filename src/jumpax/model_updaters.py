"""The seed path ``jumpax.model_updaters``: re-exports :mod:`jumpax.learning._model_updaters`."""

from .learning._model_updaters import (  # noqa: F401
    ModelUpdater,
)

__all__ = [
    "ModelUpdater",
]
