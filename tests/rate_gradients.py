"""Checking gradients with respect to rate constants against central differences."""

import equinox as eqx
import numpy as np


def assert_rate_gradients_match(loss, build, rates, rtol=1e-5, relative_step=1e-6):
    """``eqx.filter_grad(loss)`` w.r.t. each reaction's ``k`` equals central differences.

    Args:
        loss: a scalar function of the model.
        build: makes the model from the rate constants (one per reaction, in order).
        rates: the rate constants at which to compare.
        rtol: the relative tolerance.
        relative_step: the difference step, relative to each rate.
    """
    rates = np.asarray(rates, dtype=float)
    grads = eqx.filter_grad(loss)(build(*rates))
    gradient = [float(r.kinetics.k) for r in grads.network.reactions]
    central = []
    for i, h in enumerate(relative_step * rates):
        up, down = rates.copy(), rates.copy()
        up[i] += h
        down[i] -= h
        central.append((float(loss(build(*up))) - float(loss(build(*down)))) / (2 * h))
    np.testing.assert_allclose(gradient, central, rtol=rtol)
