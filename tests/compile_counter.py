"""Counting XLA compilations, to test that nothing recompiles."""

import jax

BACKEND_COMPILE = "/jax/core/compile/backend_compile_duration"


def count_compiles(fn) -> int:
    """How many XLA backend compilations running ``fn()`` triggers."""
    compiles = []

    def listener(event, duration, **kwargs):
        if event == BACKEND_COMPILE:
            compiles.append(event)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        fn()
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    return len(compiles)
