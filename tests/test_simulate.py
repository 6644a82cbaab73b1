"""The exact simulator: modes, determinism, invariants, errors, ensembles and compilation."""

import importlib
from contextlib import nullcontext

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jumpax as jx

from compile_counter import count_compiles

KEY = jax.random.key(42)


def test_event_list_layout():
    net = jx.models.birth_death()
    res = jx.simulate(KEY, net, net.x0, 20.0, max_steps=1000)
    n = int(res.n_steps)
    assert res.x.shape == (1001, 1) and res.t.shape == (1001,) and res.reactions.shape == (1000,)
    assert res.mode == "events" and not bool(res.overflow)
    assert float(res.t[0]) == 0.0 and float(res.x[0, 0]) == 0.0
    assert np.all(np.diff(np.asarray(res.t)) >= 0)
    assert np.all(np.asarray(res.reactions[:n]) >= 0)
    assert np.all(np.asarray(res.reactions[n:]) == -1)
    np.testing.assert_array_equal(res.t[n + 1 :], 20.0)
    np.testing.assert_array_equal(res.x[n + 1 :], np.broadcast_to(res.x[n], res.x[n + 1 :].shape))
    assert float(res.t[n]) < 20.0
    # each step applies the stoichiometry of the recorded reaction
    jumps = np.diff(np.asarray(res.x[: n + 1]), axis=0)
    np.testing.assert_array_equal(jumps, net.stoichiometry[np.asarray(res.reactions[:n])])



def _sparse_ring() -> jx.ReactionNetwork:
    """130 sites on a ring, hops both ways: counts change by sparse net changes."""
    hops = [(f"X{i} -> X{(i + d) % 130}", 1.0) for i in range(130) for d in (1, -1)]
    return jx.ReactionNetwork(hops, x0={f"X{i}": 1 for i in range(130)})


@pytest.mark.parametrize("max_steps", [1, 2, 31, 32, 33, 63, 64, 65, 100, 101])
@pytest.mark.parametrize("model", ["birth-death", "sparse ring"])
def test_event_list_is_a_prefix_of_a_longer_one_at_every_buffer_length(max_steps, model):
    # Event lists are copied out in blocks of iterations; every buffer length, whether or not
    # the trajectories overflow it, must hold exactly the first events of the full path (the
    # ring's counts change by sparse updates, masked for trajectories out of budget).
    net = jx.models.birth_death() if model == "birth-death" else _sparse_ring()
    t1 = 3.0 if model == "birth-death" else 0.2  # 25 to 50 events per trajectory
    full = jx.simulate(KEY, net, net.x0, t1, max_steps=1000, num_trajectories=6)
    steps = np.asarray(full.n_steps)
    overflow = steps >= max_steps  # no room for the padding row at t1 either
    with pytest.warns(jx.OverflowWarning) if overflow.any() else nullcontext():
        short = jx.simulate(KEY, net, net.x0, t1, max_steps=max_steps, num_trajectories=6)
    np.testing.assert_array_equal(np.asarray(short.overflow), overflow)
    np.testing.assert_array_equal(np.asarray(short.n_steps), np.minimum(steps, max_steps))
    for i in range(6):
        n = min(int(steps[i]), max_steps)
        np.testing.assert_array_equal(short.reactions[i, :n], full.reactions[i, :n])
        np.testing.assert_array_equal(short.x[i, : n + 1], full.x[i, : n + 1])
        np.testing.assert_array_equal(short.t[i, : n + 1], full.t[i, : n + 1])
        if not overflow[i]:  # complete paths: identical including the padding
            np.testing.assert_array_equal(short.reactions[i], full.reactions[i, :max_steps])
            np.testing.assert_array_equal(short.x[i], full.x[i, : max_steps + 1])
            np.testing.assert_array_equal(short.t[i], full.t[i, : max_steps + 1])

@pytest.mark.parametrize("solver", [jx.Direct(), jx.FirstReaction()])
def test_grid_and_event_list_agree_for_the_same_key(solver):
    net = jx.models.lotka_volterra()
    ts = jnp.linspace(0.0, 5.0, 26)
    events = jx.simulate(KEY, net, net.x0, 5.0, solver=solver, max_steps=20_000)
    grid = jx.simulate(KEY, net, net.x0, 5.0, solver=solver, save_at=ts)
    final = jx.simulate(KEY, net, net.x0, 5.0, solver=solver, save_at="final")
    np.testing.assert_array_equal(events.at(ts).x, grid.x)
    np.testing.assert_array_equal(events.final_state, final.x)
    assert int(events.n_steps) == int(grid.n_steps) == int(final.n_steps)


def test_grid_point_at_an_event_time_shows_the_post_event_state():
    net = jx.models.birth_death()
    res = jx.simulate(KEY, net, net.x0, 10.0, max_steps=500)
    t_event = float(res.t[3])
    grid = jx.simulate(KEY, net, net.x0, 10.0, save_at=jnp.array([t_event]))
    assert float(grid.x[0, 0]) == float(res.x[3, 0])


def test_same_key_same_result_and_trajectories_independent_of_batching():
    net = jx.models.dimerisation()
    ts = jnp.linspace(0, 50, 11)
    a = jx.simulate(KEY, net, net.x0, 50.0, save_at=ts, num_trajectories=8)
    b = jx.simulate(KEY, net, net.x0, 50.0, save_at=ts, num_trajectories=8)
    np.testing.assert_array_equal(a.x, b.x)
    single = jx.simulate(KEY, net, net.x0, 50.0, save_at=ts)
    np.testing.assert_array_equal(a.x[0], single.x)
    third = jx.simulate(KEY, net, net.x0, 50.0, save_at=ts, first_trajectory=3)
    np.testing.assert_array_equal(a.x[3], third.x)
    chunk = jx.simulate(KEY, net, net.x0, 50.0, save_at=ts, num_trajectories=3,
                        first_trajectory=5)
    np.testing.assert_array_equal(a.x[5:], chunk.x)
    larger = jx.simulate(KEY, net, net.x0, 50.0, save_at=ts, num_trajectories=20)
    np.testing.assert_array_equal(a.x, larger.x[:8])
    assert len({tuple(np.asarray(p).ravel()) for p in a.x}) == 8  # all different paths
    other = jx.simulate(jax.random.key(7), net, net.x0, 50.0, save_at=ts, num_trajectories=8)
    assert not np.array_equal(a.x, other.x)
    legacy = jx.simulate(jax.random.PRNGKey(42), net, net.x0, 50.0, save_at=ts)
    np.testing.assert_array_equal(legacy.x, single.x)


def test_counts_never_negative_and_dimer_at_one_never_fires():
    net = jx.ReactionNetwork([("2 A -> B", 1e6), ("A + B -> 0", 1e6), ("0 -> A", 0.0)])
    res = jx.simulate(KEY, net, {"A": 1, "B": 0}, 100.0, num_trajectories=100)
    assert np.all(np.asarray(res.n_steps) == 0)
    np.testing.assert_array_equal(res.final_state, np.broadcast_to([1.0, 0.0], (100, 2)))
    net = jx.models.lotka_volterra()
    res = jx.simulate(KEY, net, net.x0, 30.0, save_at=jnp.linspace(0, 30, 61), num_trajectories=50)
    assert np.all(np.asarray(res.x) >= 0)


def test_zero_total_propensity_ends_the_path():
    net = jx.ReactionNetwork([("A -> B", 1.0)])
    res = jx.simulate(KEY, net, {"A": 3}, 1e6, max_steps=10)
    assert int(res.n_steps) == 3 and not bool(res.overflow)
    np.testing.assert_array_equal(res.final_state, [0.0, 3.0])


def test_overflow_is_flagged_and_warned():
    net = jx.models.birth_death()
    with pytest.warns(jx.OverflowWarning, match="2 trajectories"):
        res = jx.simulate(KEY, net, net.x0, 100.0, max_steps=50, num_trajectories=2)
    assert np.all(np.asarray(res.overflow))
    with pytest.warns(jx.OverflowWarning):
        grid = jx.simulate(KEY, net, net.x0, 100.0, save_at=jnp.array([1.0, 99.0]), max_steps=50)
    assert bool(grid.reached[0, 0]) and int(grid.x[1, 0]) == jx.UNREACHED_COUNT
    assert not bool(grid.reached[1, 0])
    with pytest.warns(jx.OverflowWarning):
        final = jx.simulate(KEY, net, net.x0, 100.0, save_at="final", max_steps=50)
    assert int(final.x[0]) == jx.UNREACHED_COUNT


@pytest.mark.parametrize("save_at", ["final", "grid", None])
def test_large_shards_run_in_chunks_with_the_same_trajectories(monkeypatch, save_at):
    # A shard above CPU_CHUNK trajectories runs as consecutive chunks (the last rows repeated
    # to fill them): every trajectory, bit for bit, as in one loop.
    simulate_module = importlib.import_module("jumpax._simulate._simulate")
    net = jx.models.lotka_volterra()
    ts = np.linspace(0.0, 2.0, 5) if save_at == "grid" else save_at

    def run(chunk):
        monkeypatch.setattr(simulate_module, "CPU_CHUNK", chunk)
        jax.clear_caches()
        return jx.simulate(jax.random.key(0), net, net.x0, 2.0, save_at=ts,
                           num_trajectories=451, max_steps=3000 if save_at is None else None)

    whole, chunked = run(10**6), run(100)
    for name in ("x", "t", "n_steps", "overflow", "reactions"):
        if getattr(whole, name) is not None:
            np.testing.assert_array_equal(getattr(chunked, name), getattr(whole, name))
    assert int(np.min(whole.n_steps)) > 50


def test_overflow_warning_under_jit():
    net = jx.models.birth_death()

    @jax.jit
    def run(key):
        return jx.simulate(key, net, net.x0, 100.0, max_steps=20).n_steps

    with pytest.warns(jx.OverflowWarning):
        jax.block_until_ready(run(KEY))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"x0": {"Q": 1}}, "unknown species"),
        ({"x0": [1, 2]}, "shape"),
        ({"x0": [-1]}, "non-negative"),
        ({"t1": 0.0}, "greater than t0"),
        ({"t1": float("inf")}, "finite"),
        ({"save_at": jnp.array([0.0, 2.0, 1.0])}, "strictly increasing"),
        ({"save_at": jnp.array([0.0, 1.0, 1.0])}, "strictly increasing"),
        ({"save_at": jnp.array([0.0, 20.0])}, r"lie in \[t0, t1\]"),
        ({"save_at": jnp.zeros((2, 2))}, "1-D"),
        ({"save_at": "last"}, "'final'"),
        ({"max_steps": 0}, "max_steps"),
        ({"num_trajectories": 0}, "num_trajectories"),
        ({"first_trajectory": -1}, "first_trajectory"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, match):
    net = jx.models.birth_death()
    args = {"x0": net.x0, "t1": 10.0} | kwargs
    x0, t1 = args.pop("x0"), args.pop("t1")
    with pytest.raises(ValueError, match=match):
        jx.simulate(KEY, net, x0, t1, **args)


def test_per_trajectory_initial_states():
    net = jx.models.birth_death(birth=0.0, death=1.0)
    x0 = jnp.array([[0.0], [5.0], [9.0]])
    res = jx.simulate(KEY, net, x0, 1e-9, save_at="final", num_trajectories=3)
    np.testing.assert_array_equal(res.x, x0)
    with pytest.raises(ValueError, match="num_trajectories"):
        jx.simulate(KEY, net, x0, 1.0)
    with pytest.raises(ValueError, match="3 initial states for 2"):
        jx.simulate(KEY, net, x0, 1.0, num_trajectories=2)


def test_vmap_over_an_ensemble_of_results():
    net = jx.models.birth_death()
    res = jx.simulate(KEY, net, net.x0, 10.0, max_steps=300, num_trajectories=5)
    finals = jax.vmap(lambda r: r.final_state)(res)
    np.testing.assert_array_equal(finals, res.final_state)
    log_liks = jax.vmap(lambda r: net.log_prob(r).sum())(res)
    np.testing.assert_allclose(log_liks, net.log_prob(res).sum(-1), rtol=1e-6)


def test_first_reaction_and_direct_sample_the_same_law():
    """Two-sample check of the stationary mean at t=20 for a telegraph model (n=4000 each)."""
    net = jx.models.telegraph()
    n = 4000
    kw = {"save_at": "final", "num_trajectories": n}
    direct = np.asarray(jx.simulate(KEY, net, net.x0, 20.0, **kw).x[:, 2])
    first = np.asarray(
        jx.simulate(jax.random.key(1), net, net.x0, 20.0, solver=jx.FirstReaction(), **kw).x[:, 2]
    )
    se = np.sqrt(direct.var() / n + first.var() / n)
    assert abs(direct.mean() - first.mean()) < 3 * se
    expected = 20.0 * 1.0 / (1.0 * 3.0)  # k_tx k_on / (k_deg (k_on + k_off))
    assert abs(direct.mean() - expected) < 3 * np.sqrt(direct.var() / n)


@pytest.mark.parametrize("save_at", [None, jnp.linspace(0, 10, 5)])
def test_rebuilding_or_changing_values_does_not_recompile(save_at):
    def run(k=1.0, x0=3, t1=10.0, ts=save_at):
        net = jx.ReactionNetwork([("0 -> X", k), ("X -> 0", 0.5)])
        res = jx.simulate(KEY, net, {"X": x0}, t1, save_at=ts, max_steps=500)
        jax.block_until_ready(res)

    run()  # warm-up: compiles once
    assert count_compiles(run) == 0
    assert count_compiles(lambda: run(k=2.5)) == 0
    assert count_compiles(lambda: run(x0=7, t1=12.0)) == 0
    if save_at is not None:
        shifted = save_at * 0.9
        assert count_compiles(lambda: run(ts=shifted)) == 0
    k_array = jnp.float32(0.7)
    assert count_compiles(lambda: run(k=k_array)) == 0


def test_stochastic_model():
    net = jx.models.birth_death()
    model = jx.StochasticModel(net, t1=10.0, max_steps=2000)
    res = model(KEY, net.x0)
    direct = jx.simulate(KEY, net, net.x0, 10.0, max_steps=2000)
    np.testing.assert_array_equal(res.x, direct.x)
    assert model.network is net
    res = model(KEY, net.x0, 5.0, save_at=jnp.array([1.0, 5.0]), num_trajectories=3)
    assert res.x.shape == (3, 2, 1)
    with pytest.raises(ValueError, match="no end time"):
        jx.StochasticModel(net)(KEY, net.x0)


def _second_order_chain(n_species: int) -> jx.ReactionNetwork:
    reactions = []
    for i in range(n_species - 1):
        a, b = f"A{i}", f"A{i + 1}"
        reactions += [jx.Reaction(f"{a} -> {b}", 1.0), jx.Reaction(f"{b} -> {a}", 0.5),
                      jx.Reaction(f"2 {a} -> 2 {b}", 0.01 * (i + 1))]
    return jx.ReactionNetwork(reactions, volume=2.0)


def _with_general_laws(net: jx.ReactionNetwork) -> jx.ReactionNetwork:
    """The chain with its second-order reactions as general laws (squares, as SBML files
    write them), plus one general law reading a species that is not its reactant."""
    reactions = [
        jx.Reaction(r.string, jx.ExpressionKinetics(f"c * {r.reactants[0][0]} ^ 2", c=0.01))
        if r.reactants[0][1] == 2 else r
        for r in net.reactions
    ]
    reactions.append(jx.Reaction("A3 -> A4", jx.ExpressionKinetics("0.2 * A3 * A12 / (1 + A12)")))
    return jx.ReactionNetwork(reactions, volume=2.0)


@pytest.mark.slow
@pytest.mark.parametrize("general", [False, True], ids=["mass action", "with general laws"])
def test_sparse_propensity_updates_give_the_dense_paths_bit_for_bit(monkeypatch, general):
    ssa_module = importlib.import_module("jumpax._solver._ssa")
    net = _second_order_chain(20)  # 57 reactions, each firing changes at most 9 propensities
    if general:
        net = _with_general_laws(net)
    dependents = ssa_module.sparse_dependents(net)
    assert dependents is not None
    x = jnp.arange(20.0) % 4
    reads = net.reactant_matrix > 0
    if general:  # the general laws read their squared species, and one reads A12 too
        reads[-1, net.species.index("A12")] = True
    for r in range(net.n_reactions):
        changed = net.stoichiometry[r] != 0
        reading = np.flatnonzero(reads[:, changed].any(axis=1))
        assert set(dependents[r]) == set(reading)
        np.testing.assert_array_equal(net.propensities_of(x, jnp.asarray(dependents[r])),
                                      net.propensities(x)[dependents[r]])

    def run():
        return [jx.simulate(KEY, net, {"A0": 60, "A5": 30}, 3.0, save_at=save_at, max_steps=2000,
                            num_trajectories=8) for save_at in (None, jnp.linspace(0, 3, 7))]

    sparse = run()
    monkeypatch.setattr(ssa_module, "SPARSE_UPDATES_FROM", 10**9)
    jax.clear_caches()  # the compiled loop reads the threshold when it is traced
    dense = run()
    jax.clear_caches()
    assert int(sparse[0].n_steps.min()) > 100
    for a, b in zip(sparse, dense, strict=True):
        for name in ("x", "t", "reactions", "n_steps"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_networks_whose_events_can_change_any_propensity_update_them_all():
    net = _second_order_chain(20)
    rules = jx.ReactionNetwork(net.reactions, (*net.species, "Y"), volume=2.0,
                               rules=[jx.AssignmentRule("Y", lambda x: x[2])])
    hill = jx.ReactionNetwork(
        [*net.reactions, jx.Reaction("A0 -> A1", jx.HillActivation("A9", 1.0, 5.0, 2.0))]
    )
    assert net.propensity_dependents() is not None
    assert rules.propensity_dependents() is None and hill.propensity_dependents() is None
    with pytest.raises(ValueError, match="mass action or general rate laws"):
        hill.propensities_of(jnp.zeros(20), jnp.array([0]))
    with pytest.raises(ValueError, match=r"lie in \[0, 57\)"):
        net.propensities_of(jnp.zeros(20), jnp.array([3, 57]))
    with pytest.raises(ValueError, match=r"lie in \[0, 57\)"):
        net.propensities_of(jnp.zeros(20), jnp.array([-1]))


# ----------------------------------------------------------------------------- seed fidelity


def _final_distance_loss(model, key):
    """stochastix's pattern: simulate inside the loss, then the REINFORCE loss of the paths."""
    from jumpax import optimization as jo

    results = model(key, model.network.x0, num_trajectories=8)
    rewards = jo.neg_final_state_distance("X", "L2")(results, 30.0)
    returns = jo.discounted_returns(rewards, GAMMA=1.0)
    return jo.reinforce_loss()(model, results, returns, returns.mean(0))


@pytest.mark.parametrize(
    "solver", [jx.Direct(), pytest.param(jx.FirstReaction(), marks=pytest.mark.slow)]
)
def test_simulating_inside_the_loss_gives_the_reinforce_gradient(solver):
    import equinox as eqx

    from jumpax import optimization as jo

    model = jx.StochasticModel(jx.models.birth_death(), solver=solver, t1=5.0, max_steps=200)
    inside = eqx.filter_grad(_final_distance_loss)(model, KEY)
    results = model(KEY, model.network.x0, num_trajectories=8)
    rewards = jo.neg_final_state_distance("X", "L2")(results, 30.0)
    returns = jo.discounted_returns(rewards, GAMMA=1.0)
    outside = eqx.filter_grad(jo.reinforce_loss())(model, results, returns, returns.mean(0))
    for a, b in zip(jax.tree.leaves(inside), jax.tree.leaves(outside), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert float(jnp.abs(inside.network.reactions[0].kinetics.k)) > 0
    jitted = eqx.filter_jit(eqx.filter_grad(_final_distance_loss))(model, KEY)
    for a, b in zip(jax.tree.leaves(jitted), jax.tree.leaves(outside), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5)


def test_exact_paths_carry_no_pathwise_gradient():
    net = jx.models.birth_death()
    grad = jax.grad(lambda n: jx.simulate(KEY, n, n.x0, 5.0).t[3])(net)
    assert all(float(g) == 0.0 for g in jax.tree.leaves(grad))


@pytest.mark.parametrize("save_at", [None, "grid", "final"])
def test_vmap_over_keys_gives_the_per_key_trajectories(save_at):
    net = jx.models.dimerisation()
    save_at = jnp.linspace(0.0, 3.0, 4) if save_at == "grid" else save_at
    keys = jax.random.split(KEY, 6)

    def run(key):
        return jx.simulate(key, net, net.x0, 3.0, save_at=save_at, max_steps=500)

    batched = jax.jit(jax.vmap(run))(keys)
    for i, key in enumerate(keys):
        single = run(key)
        np.testing.assert_array_equal(batched.x[i], single.x)
        np.testing.assert_array_equal(batched.t[i], single.t)
        np.testing.assert_array_equal(batched.n_steps[i], single.n_steps)


def test_vmap_over_keys_compiles_one_ensemble():
    # The vmapped call runs the same batched loop as num_trajectories: the same number of
    # while loops and host callbacks (one overflow warning and one check for the ensemble, not
    # one per key), and about the same program size.
    import collections
    import re

    net = jx.models.dimerisation()
    keys = jax.random.split(KEY, 50)

    def ops(text):
        return collections.Counter(re.findall(r"= \"?(stablehlo\.[a-z_]+)", text))

    mapped = jax.jit(jax.vmap(lambda k: jx.simulate(k, net, net.x0, 5.0, max_steps=100)))
    ensemble = jax.jit(
        lambda k: jx.simulate(k, net, net.x0, 5.0, max_steps=100, num_trajectories=50)
    )
    a, b = mapped.lower(keys).as_text(), ensemble.lower(KEY).as_text()
    assert a.count("stablehlo.while") == b.count("stablehlo.while")
    assert a.count("callback") == b.count("callback")
    assert sum(ops(a).values()) <= 1.15 * sum(ops(b).values())


def test_vmap_over_rates_still_works():
    net = jx.models.birth_death(birth=10.0, death=1.0)
    deaths = jnp.array([0.5, 1.0, 2.0])

    def final_mean(death):
        import equinox as eqx

        n = eqx.tree_at(lambda n: n.reactions[1].kinetics.k, net, death)
        res = jx.simulate(KEY, n, n.x0, 20.0, save_at="final", num_trajectories=400)
        return jnp.mean(res.x[:, 0].astype(jnp.float32))

    means = jax.jit(jax.vmap(final_mean))(deaths)
    np.testing.assert_allclose(means, 10.0 / deaths, rtol=0.15)  # Poisson(10/d), n = 400


def test_vmap_over_rates_checks_once_and_refuses_a_bad_element():
    # Mapped over a rate (per-environment or per-particle parameters), the loop is vmapped
    # but the checks run once on the stacked results: the same host callbacks as one call.
    import equinox as eqx

    net = jx.models.birth_death()

    def final(death):
        n = eqx.tree_at(lambda n: n.reactions[1].kinetics.k, net, death)
        return jx.simulate(KEY, n, n.x0, 5.0, save_at="final").x

    single = jax.jit(final).lower(jnp.array(0.1)).as_text()
    mapped = jax.jit(jax.vmap(final)).lower(jnp.ones(50)).as_text()
    assert mapped.count("callback") == single.count("callback")
    np.testing.assert_array_equal(jax.jit(jax.vmap(final))(jnp.array([0.1, 0.2]))[1],
                                  final(jnp.array(0.2)))
    with pytest.raises(Exception, match="reaction 'death'"):
        jax.block_until_ready(jax.jit(jax.vmap(final))(jnp.array([0.1, -0.2, 0.3])))


def test_rates_driven_negative_are_refused_even_under_jit():
    import equinox as eqx

    net = jx.models.birth_death()
    bad = eqx.tree_at(lambda n: n.reactions[1].kinetics.k, net, jnp.array(-0.1))
    with pytest.raises(ValueError, match="reaction 'death'"):
        jx.simulate(KEY, bad, bad.x0, 5.0)
    nan = eqx.tree_at(lambda n: n.reactions[0].kinetics.k, net, jnp.array(jnp.nan))
    with pytest.raises(ValueError, match="reaction 'birth'"):
        jx.simulate(KEY, nan, nan.x0, 5.0, save_at="final")
    hill = jx.ReactionNetwork([jx.Reaction("0 -> X", jx.HillRepression("X", 5.0, 10.0, 2.0))])
    hill = eqx.tree_at(lambda n: n.reactions[0].kinetics.K, hill, jnp.array(0.0))
    with pytest.raises(ValueError, match="HillRepression|reaction '0 -> X'"):
        jx.simulate(KEY, hill, {"X": 0}, 5.0)
    with pytest.raises(Exception, match="parameters outside their domain"):
        jax.block_until_ready(
            jax.jit(lambda n: jx.simulate(KEY, n, n.x0, 5.0, save_at="final").x)(bad)
        )


def test_wrong_types_raise_type_error():
    net = jx.models.birth_death()
    with pytest.raises(TypeError, match="solver"):
        jx.simulate(KEY, net, net.x0, 1.0, solver="direct")
    with pytest.raises(TypeError, match="network"):
        jx.simulate(KEY, "birth_death", net.x0, 1.0)
    with pytest.raises(TypeError, match="num_trajectories"):
        jx.simulate(KEY, net, net.x0, 1.0, num_trajectories=2.0)
    with pytest.raises(ValueError, match="num_trajectories"):
        jx.simulate(KEY, net, net.x0, 1.0, num_trajectories=0)
    with pytest.raises(TypeError, match="first_trajectory"):
        jx.simulate(KEY, net, net.x0, 1.0, first_trajectory="3")
    with pytest.raises(TypeError, match="a reaction must be a string"):
        jx.Reaction(3, 1.0)
    with pytest.raises(TypeError, match="regulator"):
        jx.HillActivation(1, 1.0, 1.0)


def test_flat_network_cache_follows_the_network_it_was_made_for():
    import gc

    import equinox as eqx

    from jumpax._simulate._simulate import _FlatNetwork

    def mean_final(network):
        r = jx.simulate(jax.random.key(0), network, network.x0, 20.0, save_at="final",
                        num_trajectories=400)
        return float(np.mean(np.asarray(r.x)))

    slow = jx.models.birth_death(birth=1.0, death=0.1)
    assert mean_final(slow) == pytest.approx(8.6, rel=0.1)  # 10 (1 - e^-2)
    # A changed network is a new object: never the cached arrays of the old one.
    fast = eqx.tree_at(lambda n: n.reactions[0].kinetics.k, slow, jnp.asarray(5.0))
    assert mean_final(fast) == pytest.approx(43.2, rel=0.1)
    assert mean_final(slow) == pytest.approx(8.6, rel=0.1)
    entries = len(_FlatNetwork._cache)
    del fast
    gc.collect()
    assert len(_FlatNetwork._cache) == entries - 1  # dropped with its network


def test_large_networks_apply_net_changes_exactly():
    # 130 species: an exact step adds the fired reaction's net changes sparsely. Replaying the
    # event list with the dense stoichiometry must give every recorded state.
    from jumpax._network._network import SPARSE_FROM

    n = 130
    assert n >= SPARSE_FROM
    reactions = [jx.Reaction(f"X{i} -> X{i + 1}", 1.0) for i in range(n - 1)]
    reactions += [jx.Reaction(f"X{i + 1} + X{i} -> 2 X{i}", 0.01) for i in range(n - 1)]
    net = jx.ReactionNetwork(reactions)
    x0 = np.zeros(net.n_species, np.int64)
    x0[:10] = 20
    res = jx.simulate(jax.random.key(5), net, x0, 3.0, save_at=None, num_trajectories=2,
                      max_steps=5000)
    stoichiometry = net.stoichiometry
    for j in range(2):
        steps = int(res.n_steps[j])
        assert steps > 200
        fired = np.asarray(res.reactions[j, :steps])  # reactions[k] leads from x[k] to x[k+1]
        replayed = x0 + np.cumsum(stoichiometry[fired], axis=0)
        np.testing.assert_array_equal(np.asarray(res.x[j, 1 : steps + 1]), replayed)
