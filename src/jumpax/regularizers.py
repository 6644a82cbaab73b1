"""The seed path ``jumpax.regularizers``: re-exports :mod:`jumpax.learning._regularizers`."""

from .learning._regularizers import (  # noqa: F401
    AbstractRegularizer,
    EntropyRegularizer,
    KLDivRegularizer,
)

__all__ = [
    "AbstractRegularizer",
    "EntropyRegularizer",
    "KLDivRegularizer",
]
