"""Adapters that run each simulator on the benchmark models through one harness.

Each adapter module is imported only inside its own worker process, so a tool that fails to
import breaks only its own rows of the table.
"""

from __future__ import annotations

import importlib

ADAPTERS = {
    "jumpax": "jumpax_adapter",
    "stochastix": "stochastix_adapter",
    "crn-jax": "crnjax_adapter",
    "jsmfsb": "jsmfsb_adapter",
    "gillespy2": "gillespy2_adapter",
    "c-direct": "c_adapter",
}
"""Tool name -> adapter module (each defines ``Adapter``, a ``harness.Adapter`` subclass)."""


def load_adapter(tool: str):
    """Imports the adapter module of ``tool`` and returns an instance of its ``Adapter``."""
    if tool not in ADAPTERS:
        raise ValueError(f"unknown tool {tool!r}; known: {', '.join(ADAPTERS)}")
    module = importlib.import_module(f"{__name__}.{ADAPTERS[tool]}")
    return module.Adapter()
