"""Reaction parsing, species order, propensities and network construction."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jumpax as jx


@pytest.mark.parametrize(
    ("string", "reactants", "products"),
    [
        ("2 A + B -> C", (("A", 2), ("B", 1)), (("C", 1),)),
        ("0 -> X", (), (("X", 1),)),
        ("X -> 0", (("X", 1),), ()),
        ("2P -> P2", (("P", 2),), (("P2", 1),)),
        ("A + A -> B", (("A", 2),), (("B", 1),)),
        ("  G_on->G_on+M ", (("G_on", 1),), (("G_on", 1), ("M", 1))),
        ("X -> 100 X", (("X", 1),), (("X", 100),)),
    ],
)
def test_parse(string, reactants, products):
    reaction = jx.Reaction(string, 1.0)
    assert reaction.reactants == reactants
    assert reaction.products == products


@pytest.mark.parametrize(
    ("string", "fragment"),
    [
        ("A -> B -> C", "2 arrows"),
        ("A B -> C", "'A B'"),
        ("A* -> B", "'A*'"),
        ("A <-> B", "reversible"),
        ("A + -> B", "empty species name"),
        ("A -> + B", "empty species name"),
        ("-> B", "empty side"),
        ("A ->", "empty side"),
        ("1.5 A -> B", "non-integer"),
        ("0.5A -> B", "non-integer"),
        ("0 A -> B", "zero coefficient"),
        ("A => B", "no '->'"),
        ("A = B", "no '->'"),
        ("3 -> B", "'3'"),
    ],
)
def test_malformed_reactions_name_the_problem(string, fragment):
    with pytest.raises(ValueError, match="reaction") as info:
        jx.Reaction(string, 1.0)
    assert fragment in str(info.value)


def test_reaction_string_roundtrip_and_kinetics_shorthand():
    reaction = jx.Reaction("B + 2 A -> C", 0.5, name="r")
    assert reaction.string == "B + 2 A -> C"
    assert isinstance(reaction.kinetics, jx.MassAction)
    assert reaction.label == "r"
    assert jx.Reaction("0 -> X", 1.0).string == "0 -> X"


def test_species_order_first_appearance_and_explicit():
    net = jx.ReactionNetwork([("B + A -> C", 1.0), ("C -> D", 1.0)])
    assert net.species == ("B", "A", "C", "D")
    net = jx.ReactionNetwork([("B + A -> C", 1.0)], species=["C", "A", "B", "Inert"])
    assert net.species == ("C", "A", "B", "Inert")
    np.testing.assert_array_equal(net.stoichiometry, [[1, -1, -1, 0]])


def test_network_construction_errors():
    with pytest.raises(ValueError, match="not in species"):
        jx.ReactionNetwork([("A -> B", 1.0)], species=["A"])
    with pytest.raises(ValueError, match="more than once"):
        jx.ReactionNetwork([("A -> B", 1.0)], species=["A", "B", "A"])
    with pytest.raises(ValueError, match="at least one reaction"):
        jx.ReactionNetwork([])
    with pytest.raises(ValueError, match="non-negative"):
        jx.ReactionNetwork([("A -> B", -1.0)])
    with pytest.raises(ValueError, match="volume must be positive"):
        jx.ReactionNetwork([("A -> B", 1.0)], volume=0.0)
    with pytest.raises(ValueError, match="exactly one reactant"):
        jx.ReactionNetwork([jx.Reaction("A + B -> C", jx.MichaelisMenten(1.0, 2.0))])


@pytest.mark.parametrize(
    "make",
    [
        lambda: jx.MassAction(-0.1),
        lambda: jx.MassAction(float("nan")),
        lambda: jx.Constant(-1.0),
        lambda: jx.HillActivation("A", -1.0, 1.0),
        lambda: jx.HillActivation("A", 1.0, 0.0),
        lambda: jx.HillRepression("A", 1.0, 1.0, n=-2.0),
        lambda: jx.MichaelisMenten(1.0, -3.0),
    ],
)
def test_negative_or_invalid_rates_are_refused(make):
    with pytest.raises(ValueError):
        make()


def test_mass_action_propensity_is_exact_falling_factorial():
    net = jx.ReactionNetwork(
        [("3 A + B -> C", 0.7), ("2 B -> 0", 0.3), ("0 -> A", 2.0)], volume=2.0
    )
    x = jnp.array([5.0, 4.0, 0.0])
    a = np.asarray(net.propensities(x))
    expected = [
        0.7 * 2.0 ** (1 - 4) * math.comb(5, 3) * 4,
        0.3 * 2.0 ** (1 - 2) * math.comb(4, 2),
        2.0 * 2.0,
    ]
    np.testing.assert_allclose(a, expected, rtol=1e-6)


def test_unavailable_reactants_give_zero_propensity():
    net = jx.ReactionNetwork(
        [
            ("2 A -> B", 1.0),
            jx.Reaction("A -> 0", jx.HillRepression("B", 5.0, 1.0)),
            jx.Reaction("A -> B", jx.MichaelisMenten(3.0, 1.0)),
        ]
    )
    assert np.all(np.asarray(net.propensities(jnp.array([1.0, 0.0]))[0]) == 0.0)
    np.testing.assert_array_equal(net.propensities(jnp.array([0.0, 0.0])), [0.0, 0.0, 0.0])


def test_hill_and_michaelis_menten_formulas():
    net = jx.ReactionNetwork(
        [
            jx.Reaction("0 -> A", jx.HillActivation("R", 10.0, 4.0, 2.0)),
            jx.Reaction("0 -> A", jx.HillRepression("R", 10.0, 4.0, 2.0)),
            jx.Reaction("A -> 0", jx.MichaelisMenten(6.0, 3.0)),
            jx.Reaction("0 -> R", jx.Constant(1.5)),
        ]
    )
    a = np.asarray(net.propensities(jnp.array([6.0, 2.0])))
    np.testing.assert_allclose(a, [10 * 4 / 20, 10 * 16 / 20, 6 * 6 / 9, 1.5], rtol=1e-6)


def test_ode_rates_are_the_large_volume_limit():
    net = jx.ReactionNetwork([("2 A -> B", 0.2)], volume=10.0)
    x = jnp.array([1000.0, 0.0])
    exact = float(net.propensities(x)[0])
    ode = float(net.ode_rates(x)[0])
    assert ode == pytest.approx(0.2 / 10 * 1000**2 / 2, rel=1e-6)
    assert exact == pytest.approx(ode * 999 / 1000, rel=1e-6)
    np.testing.assert_allclose(net.ode_rhs(0.0, x), [-2 * ode, ode], rtol=1e-6)


def test_as_state_accepts_dicts_and_rejects_bad_states():
    net = jx.models.dimerisation()
    np.testing.assert_array_equal(net.as_state({"P2": 3}), [0.0, 3.0])
    np.testing.assert_array_equal(net.as_state([5, 1]), [5.0, 1.0])
    with pytest.raises(ValueError, match="unknown species"):
        net.as_state({"Q": 1})
    with pytest.raises(ValueError, match="shape"):
        net.as_state([1, 2, 3])
    with pytest.raises(ValueError, match="non-negative"):
        net.as_state([-1, 2])
    np.testing.assert_array_equal(net.as_state([1.5, 2]), [1.5, 2.0])  # continuous amounts
    with pytest.raises(ValueError, match="finite"):
        net.as_state([float("inf"), 2])
    with pytest.raises(ValueError, match="no default initial state"):
        _ = jx.ReactionNetwork([("A -> B", 1.0)]).x0


def test_species_index():
    net = jx.models.dimerisation()
    assert net.species_index("P2") == 1
    assert net.species_index(-1) == 1
    with pytest.raises(ValueError, match="unknown species"):
        net.species_index("X")
    with pytest.raises(ValueError, match="out of range"):
        net.species_index(2)


def test_grad_reaches_every_rate_parameter():
    net = jx.ReactionNetwork(
        [
            ("0 -> A", 2.0),
            jx.Reaction("A -> B", jx.MichaelisMenten(3.0, 4.0)),
            jx.Reaction("0 -> B", jx.HillActivation("A", 1.0, 2.0, 2.0)),
        ]
    )
    x = jnp.array([3.0, 1.0])
    grads = jax.grad(lambda n: n.propensities(x).sum())(net)
    leaves = jax.tree.leaves(grads)
    assert len(leaves) == 7  # k, vmax, Km, vmax, K, n, volume
    assert all(np.isfinite(np.asarray(leaf)) for leaf in leaves)
    assert float(grads.reactions[0].kinetics.k) == pytest.approx(1.0)
    assert float(grads.reactions[1].kinetics.vmax) == pytest.approx(3 / 7, rel=1e-6)


def test_network_built_from_traced_rates():
    def propensity_of(k):
        net = jx.ReactionNetwork([("A -> B", k)])
        return net.propensities(jnp.array([4.0, 0.0]))[0]

    assert float(jax.grad(propensity_of)(0.5)) == pytest.approx(4.0)
    assert float(jax.jit(propensity_of)(0.5)) == pytest.approx(2.0)


def test_identical_networks_are_equal_pytrees():
    a = jx.models.telegraph()
    b = jx.models.telegraph()
    assert jax.tree.structure(a) == jax.tree.structure(b)


def test_builtin_models_accept_traced_rates():
    x = jnp.array([3.0])
    value = jax.jit(lambda k: jx.models.birth_death(birth=k).propensities(x)[0])(2.0)
    assert float(value) == pytest.approx(2.0)
    grad = jax.grad(lambda k: jx.models.telegraph(k_on=k).propensities(jnp.array([1.0, 0, 0]))[0])
    assert float(grad(1.0)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="default x0 must be concrete"):
        jax.jit(lambda n: jx.ReactionNetwork([("A -> 0", 1.0)], x0=n[None]).n_species)(1.0)


# ----------------------------------------------------------------------------- trainability


def _train(network, steps=5, optimizer=None):
    """A stochastix training loop, ported verbatim: every array of the network is optimized."""
    import equinox as eqx
    import optax

    optimizer = optimizer or optax.adam(0.01)
    state = optimizer.init(eqx.filter(network, eqx.is_array))

    def loss(n):
        path = jx.simulate(jax.random.key(0), n, n.x0, 5.0)
        return -n.log_prob(path).sum()

    for _ in range(steps):
        grads = eqx.filter_grad(loss)(network)
        updates, state = optimizer.update(grads, state, network)
        network = eqx.apply_updates(network, updates)
    return network


def test_only_rate_parameters_train_by_default():
    net = jx.ReactionNetwork(
        [jx.Reaction("0 -> X", 10.0), jx.Reaction("2 X -> 0", 0.1)], volume=1.0, x0={"X": 0}
    )
    trained = _train(net)
    assert float(trained.volume) == 1.0  # stochastix's loop moved it to 1.5 before
    assert float(trained.reactions[1].kinetics.k) != 0.1
    grads = jax.grad(lambda n: n.log_prob(jx.simulate(jax.random.key(1), n, n.x0, 5.0)).sum())(
        net
    )
    assert float(grads.volume) == 0.0


def test_train_volume_opts_in():
    net = jx.ReactionNetwork(
        [jx.Reaction("0 -> X", 10.0), jx.Reaction("2 X -> 0", 0.1)], x0={"X": 0},
        train_volume=True,
    )
    path = jx.simulate(jax.random.key(1), net, net.x0, 5.0)
    grad = jax.grad(lambda n: n.log_prob(path).sum())(net).volume
    # log p = sum log a_r - int a0; only 2 X -> 0 depends on V (as 1 / V): check against a
    # central difference
    eps = 1e-2
    plus, minus = (eqx_tree_at_volume(net, 1.0 + s * eps) for s in (1, -1))
    fd = (plus.log_prob(path).sum() - minus.log_prob(path).sum()) / (2 * eps)
    np.testing.assert_allclose(grad, fd, rtol=2e-2)
    assert float(_train(net).volume) != 1.0


def eqx_tree_at_volume(net, volume):
    import equinox as eqx

    return eqx.tree_at(lambda n: n.volume, net, jnp.asarray(volume, jnp.float32))


def test_time_event_times_read_by_solvers_carry_no_gradient():
    event = jx.TimeEvent(2.0, [("X", lambda x: x[0] + 100)])
    assert float(jax.grad(lambda e: 3.0 * e.firing_time)(event).time) == 0.0


@pytest.mark.slow
def test_time_event_times_are_not_trainable():
    net = jx.ReactionNetwork(
        [jx.Reaction("0 -> X", 10.0), jx.Reaction("X -> 0", 1.0)],
        x0={"X": 0},
        events=[jx.TimeEvent(2.0, [("X", lambda x: x[0] + 100)])],
    )
    ode = jx.MeanFieldModel(net)
    grad = jax.grad(lambda n: jx.MeanFieldModel(n)(n.x0, 3.0, save_at="final").x[0])(net)
    assert float(grad.events[0].time) == 0.0
    assert float(grad.reactions[0].kinetics.k) != 0.0
    assert ode is not None


@pytest.mark.parametrize(
    ("species", "error", "match"),
    [
        (("X", "my species"), ValueError, "letters, digits and underscores"),
        (("X", ""), ValueError, "letters, digits and underscores"),
        (("X", 3), TypeError, "must be strings"),
        (("X", "time"), ValueError, "reserved"),
        (("trajectory", "X"), ValueError, "reserved"),
    ],
)
def test_species_names_are_checked(species, error, match):
    # such names used to become inert species, or overwrite a column of to_table() and CSV
    with pytest.raises(error, match=match):
        jx.ReactionNetwork([jx.Reaction("X -> 0", 1.0)], species=species)


def test_reserved_names_in_reaction_strings_are_refused():
    with pytest.raises(ValueError, match="'time' is reserved"):
        jx.ReactionNetwork([jx.Reaction("time -> 0", 1.0)])


def test_trajectory_indices_never_wrap_at_2_32():
    net = jx.models.birth_death()

    def first_event_time(first):
        res = jx.simulate(jax.random.key(0), net, net.x0, 5.0, first_trajectory=first,
                          num_trajectories=1)
        return float(res.t[0, 1])

    with pytest.raises(ValueError, match="below 2\\*\\*32"):
        jx.simulate(jax.random.key(0), net, net.x0, 1.0, first_trajectory=2**32 - 1,
                    num_trajectories=2)
    # the last index there is, 2**32 - 1, is its own trajectory, not trajectory 0 or 1
    assert first_event_time(2**32 - 1) not in (first_event_time(0), first_event_time(1))


def test_reaction_index_by_name_string_or_position():
    net = jx.models.birth_death()
    assert net.reaction_index("death") == 1
    assert net.reaction_index("0 -> X") == 0
    assert net.reaction_index(1) == 1
    with pytest.raises(ValueError, match="unknown reaction 'growth'; the network has 'birth'"):
        net.reaction_index("growth")
    with pytest.raises(ValueError, match="out of range"):
        net.reaction_index(2)


def _chain(n_reactions: int, k: float = 1.0) -> jx.ReactionNetwork:
    return jx.ReactionNetwork([jx.Reaction(f"X{i} -> X{i + 1}", k) for i in range(n_reactions)])


def test_parameters_ok_flags_each_reaction_and_the_volume():
    net = _chain(5)
    assert np.asarray(net.parameters_ok()).tolist() == [True] * 6
    bad = eqx.tree_at(lambda n: n.reactions[3].kinetics.k, net, jnp.asarray(-1.0))
    assert np.asarray(bad.parameters_ok()).tolist() == [True, True, True, True, False, True]
    mixed = jx.ReactionNetwork(
        [*net.reactions, jx.Reaction("X0 -> 0", jx.MichaelisMenten(1.0, 2.0))]
    )
    mixed = eqx.tree_at(lambda n: n.reactions[5].kinetics.Km, mixed, jnp.asarray(0.0))
    assert np.asarray(mixed.parameters_ok()).tolist() == [True] * 6 + [False]


def test_parameters_ok_traces_to_the_same_program_for_any_number_of_reactions():
    # One comparison per parameter name, not per reaction: the check's compile time must not
    # grow with the network (it dominated compiling a 1,536-reaction lattice).
    def primitives(net):
        jaxpr = jax.make_jaxpr(lambda n: n.parameters_ok())(net)
        return sorted(eqn.primitive.name for eqn in jaxpr.eqns)

    assert primitives(_chain(10)) == primitives(_chain(1000))


def test_net_changes_are_the_stoichiometry_in_sparse_form():
    net = jx.ReactionNetwork(
        [jx.Reaction("A + B -> C", 1.0), jx.Reaction("2 A -> A", 1.0), jx.Reaction("C -> C", 1.0)]
    )
    species, delta = net.net_changes
    assert species.shape == delta.shape == (3, 3)
    dense = np.zeros((3, net.n_species), np.int64)
    for r in range(3):
        np.add.at(dense[r], species[r], delta[r])
    np.testing.assert_array_equal(dense, net.stoichiometry)
    assert np.count_nonzero(delta[2]) == 0  # C -> C changes nothing


def test_large_networks_give_the_dense_ode_rhs_and_availability_from_sparse_changes():
    from jumpax._network._network import SPARSE_FROM

    n = SPARSE_FROM + 2
    reactions = [jx.Reaction(f"2 S{i} -> S{i + 1}", 0.01 * (i + 1)) for i in range(n - 1)]
    reactions.append(jx.Reaction("S0 + S5 -> 0", jx.ExpressionKinetics("k * S0 * S5", k=0.2)))
    net = jx.ReactionNetwork(reactions)
    x = jnp.asarray(np.arange(n, dtype=np.float32) % 3)
    dense = net.ode_rates(x) @ jnp.asarray(net.stoichiometry, dtype=x.dtype)
    np.testing.assert_allclose(net.ode_rhs(0.0, x), dense, rtol=1e-6)
    available = np.all(np.asarray(x)[None, :] >= net.reactant_matrix, axis=1)
    np.testing.assert_array_equal(net._available(x), available)
    assert not available.all() and available.any()


def _mixed_network():
    """Mass action, general rate laws of two shapes and a Hill law."""
    return jx.ReactionNetwork([
        ("0 -> A", 2.0),
        ("A + B -> C", 0.3),
        jx.Reaction("A -> B", jx.ExpressionKinetics("V * A / (K + A)", V=3.0, K=4.0)),
        jx.Reaction("B -> C", jx.ExpressionKinetics("V * B / (K + B)", V=1.5, K=2.0)),
        jx.Reaction("C -> 0", jx.ExpressionKinetics("k * C * C", k=0.01)),
        jx.Reaction("0 -> B", jx.HillActivation("A", 1.0, 2.0, 2.0)),
    ])


def test_rate_table_gives_the_same_rates_and_gradients():
    net = _mixed_network()
    tabled = net.with_rate_table()
    assert net.rate_table is None and tabled.rate_table is not None
    assert tabled.with_rate_table() is tabled
    x = jnp.array([3.0, 2.0, 5.0])
    np.testing.assert_array_equal(tabled.propensities(x), net.propensities(x))
    np.testing.assert_array_equal(tabled.ode_rates(x), net.ode_rates(x))
    # Stacked inside the differentiated function: gradients reach every parameter as before.
    grad = jax.grad(lambda n: n.with_rate_table().propensities(x).sum())(net)
    expected = jax.grad(lambda n: n.propensities(x).sum())(net)
    for a, b in zip(jax.tree.leaves(grad), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    lattice = _chain(50)
    which = jnp.array([0, 7, 49])
    np.testing.assert_array_equal(
        lattice.with_rate_table().propensities_of(jnp.arange(51.0), which),
        lattice.propensities_of(jnp.arange(51.0), which),
    )


def _largest_loop_closure(jaxpr) -> int:
    """The most values any while loop in ``jaxpr`` (nested ones included) closes over."""
    most = 0
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "while":
            most = max(most, eqn.params["body_nconsts"] + eqn.params["cond_nconsts"])
        for value in eqn.params.values():
            for sub in value if isinstance(value, tuple | list) else (value,):
                inner = getattr(sub, "jaxpr", sub)
                if isinstance(inner, jax.extend.core.Jaxpr):
                    most = max(most, _largest_loop_closure(inner))
    return most


@pytest.mark.parametrize("solve", ["simulate", "ode"])
def test_loops_read_stacked_rate_parameters_not_one_value_per_law(solve):
    # 300 Michaelis-Menten laws of 2 parameters each: the simulation loop reads them as a few
    # stacked arrays (made once before it), not as 600 scalars (they dominated compiling).
    net = jx.ReactionNetwork(
        [
            jx.Reaction(f"S{i} -> S{i + 1}",
                        jx.ExpressionKinetics("V * S / (K + S)".replace("S", f"S{i}"),
                                              V=1.0 + i, K=2.0 + i))
            for i in range(300)
        ],
        x0={"S0": 100},
    )
    if solve == "simulate":
        run = lambda n: jx.simulate(jax.random.key(0), n, n.x0, 1.0, save_at="final").x  # noqa: E731
    else:
        run = lambda n: jx.MeanFieldModel(n)(n.x0, 1.0).x  # noqa: E731
    closure = _largest_loop_closure(jax.make_jaxpr(run)(net).jaxpr)
    assert 0 < closure < 60
