"""LangevinModel: the chemical Langevin SDE against DSMTS, gradients, randomness, errors.

Tolerances. For linear networks the Langevin equation has the exact mean and variance; the
Euler-Maruyama step (dt = 0.05) adds a bias of about ``mu dt / 2`` = 0.25% to a stationary
variance. Means must lie in the DSMTS band [0.98, 1.02]; standard deviations (n = 2,000, sampling
noise 1.6%) within it widened by 3.5 standard errors. For the nonlinear dimerisation (00031) the
Langevin equation is itself an approximation: the same band is used. Gradients are checked in
float64 against central differences for a fixed key (the path is a smooth function of the rates).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jumpax as jx
from jumpax import LangevinModel

from compile_counter import assert_new_values_do_not_recompile
from dsmts_protocol import TIMES, reference
from rate_gradients import assert_rate_gradients_match

KEY = jax.random.key(0)

CASES = {
    "00005": ([jx.Reaction("X -> 2 X", 0.1), jx.Reaction("X -> 0", 0.11)], {"X": 10_000}),
    "00023": ([jx.Reaction("0 -> X", 1000.0), jx.Reaction("X -> 0", 0.1)], {"X": 0}),
    "00031": (
        [jx.Reaction("2 P -> P2", 0.0002), jx.Reaction("P2 -> 2 P", 0.004)],
        {"P": 1000, "P2": 0},
    ),
}


def immigration_death():
    return jx.ReactionNetwork(CASES["00023"][0])


@pytest.mark.parametrize("case", sorted(CASES))
def test_dsmts_mean_and_sd(case):
    n = 2000
    reactions, x0 = CASES[case]
    network = jx.ReactionNetwork(reactions)
    results = LangevinModel(network)(
        jax.random.key(int(case)), x0, 50.0, save_at=TIMES, num_trajectories=n
    )
    x = np.asarray(results.x, dtype=np.float64)
    assert x.shape == (n, 51, network.n_species) and not np.any(np.asarray(results.overflow))
    sd_band = 0.02 + 3.5 / math.sqrt(2 * n)
    for i, species in enumerate(network.species):
        mean, sd = reference(case)[species]
        np.testing.assert_array_equal(x[:, 0, i], mean[0])
        mean_ratio = x[:, 1:, i].mean(axis=0) / mean[1:]
        sd_ratio = x[:, 1:, i].std(axis=0, ddof=1) / sd[1:]
        print(
            f"{case} {species}: mean [{mean_ratio.min():.4f}, {mean_ratio.max():.4f}] "
            f"sd [{sd_ratio.min():.4f}, {sd_ratio.max():.4f}]"
        )
        assert np.all(np.abs(mean_ratio - 1) <= 0.02), species
        assert np.all(np.abs(sd_ratio - 1) <= sd_band), species


def test_randomness_follows_simulate():
    model = LangevinModel(immigration_death(), num_steps=100)
    ts = jnp.array([1.0, 5.0])
    ensemble = model(KEY, {"X": 0}, 5.0, save_at=ts, num_trajectories=4)
    again = model(KEY, {"X": 0}, 5.0, save_at=ts, num_trajectories=4)
    np.testing.assert_array_equal(ensemble.x, again.x)
    single = model(jax.random.split(KEY, 4)[2], {"X": 0}, 5.0, save_at=ts)
    np.testing.assert_allclose(single.x, ensemble.x[2], rtol=1e-6)
    assert single.x.shape == (2, 1) and ensemble.x.shape == (4, 2, 1)
    assert len(np.unique(np.asarray(ensemble.x[:, :, 0]), axis=0)) == 4  # distinct paths
    final = model(KEY, jnp.array([[0.0], [100.0]]), 5.0, num_trajectories=2)
    assert final.x.shape == (2, 1) and final.mode == "final"
    np.testing.assert_array_equal(final.t, 5.0)
    np.testing.assert_array_equal(final.n_steps, 100)


@pytest.mark.slow
def test_gradients_match_finite_differences():
    ts = jnp.linspace(0.0, 10.0, 11)
    with jax.enable_x64(True):

        def loss(model):
            x = model(KEY, {"P": 1000, "P2": 0}, 10.0, save_at=ts, num_trajectories=8).x
            return jnp.mean((x[:, :, 0] - 300.0) ** 2) / 1e4

        def model(k1, k2):
            network = jx.ReactionNetwork(
                [jx.Reaction("2 P -> P2", k1), jx.Reaction("P2 -> 2 P", k2)]
            )
            return LangevinModel(network, num_steps=200)

        assert_rate_gradients_match(loss, model, [0.0002, 0.004])


def test_changing_values_does_not_recompile():
    assert_new_values_do_not_recompile(
        lambda net, x0, t1, ts: LangevinModel(net, num_steps=50)(KEY, x0, t1, save_at=ts)
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"save_at": None}, "records no events"),
        ({"x0": jnp.zeros((3, 1))}, "pass num_trajectories=3"),
        ({"x0": jnp.zeros((3, 1)), "num_trajectories": 2}, "3 initial states for 2"),
        ({"x0": jnp.zeros(2)}, "x0 must have shape"),
        ({"num_trajectories": 0}, "num_trajectories"),
        ({"t0": 20.0}, "t1 must be greater than t0"),
    ],
)
def test_invalid_calls_raise(kwargs, match):
    arguments = {"x0": {"X": 0}, "save_at": "final"} | kwargs
    with pytest.raises(ValueError, match=match):
        LangevinModel(immigration_death())(KEY, arguments.pop("x0"), 10.0, **arguments)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_steps": 0}, "num_steps"),
        ({"num_steps": 2.5}, "num_steps"),
        ({"network": 1}, "ReactionNetwork"),
    ],
)
def test_invalid_settings_raise(kwargs, match):
    arguments = {"network": immigration_death()} | kwargs
    wrong_type = kwargs in ({"num_steps": 2.5}, {"network": 1})
    with pytest.raises(TypeError if wrong_type else ValueError, match=match):
        LangevinModel(**arguments)
