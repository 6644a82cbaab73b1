"""MeanFieldModel: the reaction-rate ODE against analytic means, gradients, layout and errors.

Tolerances: the solver runs at rtol = atol = 1e-6 in float32, so the linear cases must match their
analytic means to 1e-5 relative. Gradients are checked in float64 against central differences
with relative step 1e-6 at rtol = atol = 1e-10 (agreement to 1e-5 relative).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jumpax as jx
from jumpax import MeanFieldModel

from compile_counter import assert_new_values_do_not_recompile
from dsmts_protocol import TIMES, reference
from rate_gradients import assert_rate_gradients_match


def birth_death():
    return jx.ReactionNetwork([jx.Reaction("X -> 2 X", 0.1), jx.Reaction("X -> 0", 0.11)])


def immigration_death():
    return jx.ReactionNetwork([jx.Reaction("0 -> X", 1000.0), jx.Reaction("X -> 0", 0.1)])


def dimerisation(k1=0.0002, k2=0.004):
    return jx.ReactionNetwork([jx.Reaction("2 P -> P2", k1), jx.Reaction("P2 -> 2 P", k2)])


@pytest.mark.parametrize(
    ("case", "network", "x0"),
    [("00005", birth_death, {"X": 10_000}), ("00023", immigration_death, {"X": 0})],
)
def test_linear_cases_match_the_analytic_mean(case, network, x0):
    results = MeanFieldModel(network())(x0, 50.0, save_at=TIMES)
    t = np.asarray(TIMES)
    analytic = 10_000 * (np.exp(-0.01 * t) if case == "00005" else 1 - np.exp(-0.1 * t))
    np.testing.assert_allclose(reference(case)["X"][0], analytic, rtol=1e-6)  # DSMTS's mean
    x = np.asarray(results.x[:, 0], dtype=np.float64)
    assert x[0] == analytic[0]
    np.testing.assert_allclose(x[1:], analytic[1:], rtol=1e-5)
    assert not bool(results.overflow) and results.reactions is None


def test_dimerisation_uses_the_large_volume_limit_of_the_propensity():
    # 2 P -> P2 fires at k P (P - 1) / 2; the ODE uses k P^2 / 2 (not k P^2), which stays
    # within 0.2% of the exact CME mean at these counts.
    results = MeanFieldModel(dimerisation())({"P": 1000, "P2": 0}, 50.0, save_at=TIMES)
    for i, species in enumerate(("P", "P2")):
        mean = reference("00031")[species][0]
        np.testing.assert_allclose(results.x[1:, i], mean[1:], rtol=2e-3)


def test_result_layout_follows_simulate():
    model = MeanFieldModel(immigration_death())
    final = model({"X": 0}, 10.0)
    assert final.x.shape == (1,) and final.mode == "final"
    assert float(final.t) == 10.0 and float(final.t1) == 10.0
    grid = model(jnp.array([0.0]), 10.0, t0=2.0, save_at=jnp.array([2.0, 5.0, 10.0]))
    assert grid.x.shape == (3, 1) and grid.mode == "grid" and float(grid.x[0, 0]) == 0.0
    np.testing.assert_allclose(grid.x[-1, 0], 10_000 * (1 - np.exp(-0.8)), rtol=1e-5)
    batch = model(jnp.array([[0.0], [10_000.0]]), 10.0, save_at=jnp.array([0.0, 10.0]))
    assert batch.x.shape == (2, 2, 1) and batch.is_ensemble
    np.testing.assert_allclose(batch.x[1, :, 0], 10_000.0, rtol=1e-6)  # the steady state
    np.testing.assert_allclose(batch.x[0, -1], final.x, rtol=1e-6)
    assert int(final.n_steps) > 0


def test_overflow_is_flagged_and_unreached_times_are_nan():
    model = MeanFieldModel(immigration_death(), max_steps=2)
    with pytest.warns(jx.OverflowWarning):
        results = model({"X": 0}, 50.0, save_at=jnp.array([0.0, 50.0]))
    assert bool(results.overflow)
    assert float(results.x[0, 0]) == 0.0 and np.isnan(results.x[1, 0])


@pytest.mark.slow
def test_gradients_match_finite_differences():
    # The model is a pytree: eqx.filter_grad differentiates the network's rate constants.
    ts = jnp.linspace(0.0, 10.0, 11)
    with jax.enable_x64(True):

        def loss(model):
            x = model({"P": 1000, "P2": 0}, 10.0, save_at=ts).x
            return jnp.sum((x[:, 0] - 300.0) ** 2) / 1e4

        def model(k1, k2):
            return MeanFieldModel(dimerisation(k1, k2), rtol=1e-10, atol=1e-10)

        assert_rate_gradients_match(loss, model, [0.0002, 0.004])


def test_changing_values_does_not_recompile():
    assert_new_values_do_not_recompile(
        lambda net, x0, t1, ts: MeanFieldModel(net)(x0, t1, save_at=ts)
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"save_at": None}, "records no events"),
        ({"save_at": "all"}, "save_at"),
        ({"save_at": jnp.array([5.0, 1.0])}, "strictly increasing"),
        ({"save_at": jnp.array([1.0, 20.0])}, r"lie in \[t0, t1\]"),
        ({"t0": 10.0}, "t1 must be greater than t0"),
        ({"x0": jnp.zeros(3)}, "x0 must have shape"),
        ({"x0": {"X": -1}}, "non-negative"),
        ({"x0": {"Y": 1}}, "unknown species"),
    ],
)
def test_invalid_calls_raise(kwargs, match):
    arguments = {"x0": {"X": 0}, "t0": 0.0, "save_at": "final"} | kwargs
    with pytest.raises(ValueError, match=match):
        MeanFieldModel(immigration_death())(arguments.pop("x0"), 10.0, **arguments)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rtol": 0.0}, "rtol"),
        ({"atol": -1.0}, "atol"),
        ({"max_steps": 0}, "max_steps"),
        ({"network": "X -> 0"}, "ReactionNetwork"),
    ],
)
def test_invalid_settings_raise(kwargs, match):
    arguments = {"network": immigration_death()} | kwargs
    wrong_type = "network" in kwargs
    with pytest.raises(TypeError if wrong_type else ValueError, match=match):
        MeanFieldModel(**arguments)
