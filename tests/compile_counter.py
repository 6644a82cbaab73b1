"""Counting XLA compilations, to test that nothing recompiles."""

import jax
import jax.numpy as jnp

import jumpax as jx

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


def assert_new_values_do_not_recompile(solve) -> None:
    """``solve(network, x0, t1, save_at)`` compiles once, then never again for other values.

    It is run on a birth-death network, then again with another death rate, initial state,
    horizon and save times (same shapes and dtypes): neither run may compile.
    """

    def run(k=0.1, x0=0.0, t1=10.0, scale=1.0):
        net = jx.ReactionNetwork([jx.Reaction("0 -> X", 1000.0), jx.Reaction("X -> 0", k)])
        jax.block_until_ready(solve(net, jnp.array([x0]), t1, scale * jnp.array([1.0, 5.0])))

    run()
    assert count_compiles(run) == 0
    assert count_compiles(lambda: run(k=0.3, x0=5.0, t1=12.0, scale=0.5)) == 0
