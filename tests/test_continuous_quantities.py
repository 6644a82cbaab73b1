"""Rate rules, variables, observables, net-rate reactions and networks without reactions.

The reaction-rate ODE (:class:`jumpax.MeanFieldModel`) honours them (checked against closed
forms); every jump solver and the Langevin model refuse them, naming the feature.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jumpax as jx
from jumpax import ExpressionKinetics, RateRule, StateFunction, parse_expression

TS = jnp.linspace(0.0, 2.0, 5)


def _function(formula: str, state: tuple[str, ...]) -> StateFunction:
    return StateFunction(parse_expression(formula), state)


def growing_volume() -> jx.ReactionNetwork:
    """X decays at rate 0.5 while a variable V grows as dV/dt = 0.1 V (V(0) = 2)."""
    state = ("X", "V")
    return jx.ReactionNetwork(
        [jx.Reaction("X -> 0", 0.5)],
        species=state,
        x0={"X": 10.0, "V": 2.0},
        rules=[RateRule("V", _function("0.1 * V", state))],
        variables=("V",),
        observables={"concentration": _function("X / V", state)},
    )


def net_rate() -> jx.ReactionNetwork:
    """A <-> B with the net law 2 A - B (reversible=True): A(t) relaxes to a third of A + B."""
    law = ExpressionKinetics("kf * A - kr * B", kf=2.0, kr=1.0)
    return jx.ReactionNetwork(
        [jx.Reaction("A -> B", law, "isomerisation", reversible=True)], x0={"A": 9.0, "B": 0.0}
    )


def no_reactions() -> jx.ReactionNetwork:
    """No reactions, only a rate rule: dY/dt = -Y (Y(0) = 1.5, a fractional amount)."""
    return jx.ReactionNetwork(
        [], species=("Y",), x0={"Y": 1.5}, rules=[RateRule("Y", _function("-Y", ("Y",)))]
    )


def test_rate_rule_on_a_variable_follows_its_closed_form():
    network = growing_volume()
    results = jx.MeanFieldModel(network, rtol=1e-8, atol=1e-8)(network.x0, 2.0, save_at=TS)
    np.testing.assert_allclose(results.x[:, 0], 10.0 * np.exp(-0.5 * TS), rtol=1e-5)
    np.testing.assert_allclose(results.x[:, 1], 2.0 * np.exp(0.1 * TS), rtol=1e-5)
    expected = 5.0 * np.exp(-0.6 * TS)
    np.testing.assert_allclose(network.observe("concentration", results.x), expected, rtol=1e-5)
    np.testing.assert_allclose(network.observe("V", results.x), results.x[:, 1])


def test_net_rate_reaction_relaxes_to_its_equilibrium():
    network = net_rate()
    results = jx.MeanFieldModel(network, rtol=1e-8, atol=1e-8)(network.x0, 2.0, save_at=TS)
    expected = 3.0 + 6.0 * np.exp(-3.0 * TS)  # dA/dt = -(2 A - (9 - A))
    np.testing.assert_allclose(results.x[:, 0], expected, rtol=1e-5)


def test_network_without_reactions_integrates_its_rate_rules():
    network = no_reactions()
    results = jx.MeanFieldModel(network, rtol=1e-8, atol=1e-8)(network.x0, 2.0, save_at=TS)
    np.testing.assert_allclose(results.x[:, 0], 1.5 * np.exp(-TS), rtol=1e-5)


def test_events_may_set_variables_to_negative_values():
    state = ("X", "k")
    network = jx.ReactionNetwork(
        [jx.Reaction("0 -> X", ExpressionKinetics("k + 2"))],
        species=state,
        x0={"X": 0.0, "k": 0.0},
        variables=("k",),
        rules=[RateRule("k", _function("0", state))],
        events=[jx.TimeEvent(1.0, [("k", _function("-1", state))])],
    )
    # dX/dt = k + 2: 2 until t = 1, then 1 (the law reads the variable k, not a parameter)
    ts = jnp.array([0.5, 1.0, 2.0])
    results = jx.MeanFieldModel(network, rtol=1e-8, atol=1e-8)(network.x0, 2.0, save_at=ts)
    np.testing.assert_allclose(results.x[:, 0], [1.0, 2.0, 3.0], rtol=1e-5)
    np.testing.assert_allclose(results.x[:, 1], [0.0, -1.0, -1.0])


JUMP_SOLVERS = {
    "Direct": jx.Direct(),
    "FirstReaction": jx.FirstReaction(),
    "GumbelSoftmaxDirect": jx.GumbelSoftmaxDirect(),
    "TauLeaping": jx.TauLeaping(),
    "CLE": None,
}
FEATURES = {
    "rate rule": (growing_volume, r"cannot simulate rate rules \(continuous dynamics, for \['V'\]"),
    "net rate": (net_rate, r"cannot simulate reversible reactions \['isomerisation'\]"),
    "no reactions": (no_reactions, "cannot simulate rate rules"),
}


@pytest.mark.parametrize("feature", sorted(FEATURES))
@pytest.mark.parametrize("solver", sorted(JUMP_SOLVERS))
def test_jump_solvers_refuse_continuous_features_by_name(solver, feature):
    build, message = FEATURES[feature]
    network = build()
    x0 = jnp.round(network.x0)
    key = jax.random.key(0)
    with pytest.raises(ValueError, match=f"{solver if solver != 'CLE' else 'LangevinModel'} "
                                         f"{message}"):
        if solver == "CLE":
            jx.LangevinModel(network)(key, x0, 1.0, save_at="final")
        else:
            jx.simulate(key, network, x0, 1.0, solver=JUMP_SOLVERS[solver], save_at="final")


def test_variables_alone_are_refused_by_jump_solvers():
    network = jx.ReactionNetwork(
        [jx.Reaction("X -> 0", 1.0)], species=("X", "k"), x0={"X": 5, "k": 1}, variables=("k",)
    )
    with pytest.raises(ValueError, match=r"Direct cannot simulate variables \['k'\]"):
        jx.simulate(jax.random.key(0), network, network.x0, 1.0)


def test_reactions_without_a_network_need_species():
    with pytest.raises(ValueError, match="at least one reaction, or species="):
        jx.ReactionNetwork([])
    with pytest.raises(ValueError, match="Direct needs a network with reactions"):
        jx.simulate(jax.random.key(0), jx.ReactionNetwork([], species=("X",)), {"X": 1}, 1.0)


def test_fractional_amounts_are_for_the_continuous_models_only():
    network = jx.ReactionNetwork([jx.Reaction("X -> 0", 1.0)], x0={"X": 2.5})
    final = jx.MeanFieldModel(network, rtol=1e-8, atol=1e-8)(network.x0, 1.0).x
    np.testing.assert_allclose(final, [2.5 * np.exp(-1.0)], rtol=1e-5)
    with pytest.raises(ValueError, match="x0 counts must be whole numbers"):
        jx.simulate(jax.random.key(0), network, network.x0, 1.0)
    with pytest.raises(ValueError, match="x0 counts must be non-negative"):
        jx.MeanFieldModel(network)({"X": -1.0}, 1.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"variables": ("Z",)}, r"variables \['Z'\] are not in species"),
        ({"variables": ("X",)}, r"variables \['X'\] are changed by reactions"),
        ({"rules": [RateRule("X", lambda x: x[0])]}, "set by a rate rule and also changed"),
        (
            {"rules": [RateRule("V", lambda x: x[0]), jx.AssignmentRule("V", lambda x: x[0])]},
            "'V' is set by more than one rule",
        ),
        ({"observables": {"V": lambda x: x[0]}}, r"observables \['V'\] have the names of"),
    ],
)
def test_bad_rules_variables_and_observables_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        jx.ReactionNetwork([jx.Reaction("X -> 0", 1.0)], species=("X", "V"), **kwargs)


def test_observe_names_what_it_does_not_know():
    network = growing_volume()
    with pytest.raises(ValueError, match="unknown state entry or observable 'W'"):
        network.observe("W", network.x0)
    with pytest.raises(ValueError, match=r"states must have shape \(\.\.\., 2\)"):
        network.observe("V", jnp.zeros(3))


def test_rate_rules_variables_and_observables_round_trip_through_sbml():
    network = growing_volume()
    again = jx.load_sbml(jx.to_sbml(network))
    assert again.species == ("X", "V") and again.variables == ("V",)
    assert "concentration" in again.observable_names
    ts = jnp.array([0.5, 2.0])
    before = jx.MeanFieldModel(network, rtol=1e-8, atol=1e-8)(network.x0, 2.0, save_at=ts)
    after = jx.MeanFieldModel(again, rtol=1e-8, atol=1e-8)(again.x0, 2.0, save_at=ts)
    np.testing.assert_allclose(after.x, before.x, rtol=1e-5)
    np.testing.assert_allclose(
        again.observe("concentration", after.x), network.observe("concentration", before.x),
        rtol=1e-5,
    )


def delayed_reset() -> jx.ReactionNetwork:
    """Births at rate 10; once X >= 5, X is reset to 0 one time unit later."""
    state = ("X",)
    return jx.ReactionNetwork(
        [jx.Reaction("0 -> X", 10.0)],
        x0={"X": 0.0},
        events=[jx.StateEvent(_function("X >= 5", state), [("X", _function("0", state))],
                              initial_value=False, delay=_function("1", state))],
    )


def test_a_delayed_event_fires_after_its_delay_with_the_values_at_its_trigger():
    # dX/dt = 10: X = 5 at t = 0.5, reset at t = 1.5 (X = 15 then), X = 5 again at t = 2.0
    network = delayed_reset()
    ts = jnp.array([1.0, 1.49, 1.5, 1.7, 2.0])
    results = jx.MeanFieldModel(network, rtol=1e-8, atol=1e-8)(network.x0, 2.0, save_at=ts)
    np.testing.assert_allclose(results.x[:, 0], [10.0, 14.9, 0.0, 2.0, 5.0], atol=1e-4)


def test_priorities_order_simultaneous_events():
    # both fire at t = 1, reading Y when carried out: Y = 2 Y + 1 then Y = 10 Y gives 10, the
    # other order 1
    state = ("X", "Y")
    def events(first: float, second: float) -> list:
        return [
            jx.StateEvent(_function("X >= 1", state), [("Y", _function(value, state))],
                          initial_value=False, priority=_function(str(priority), state),
                          values_at_trigger=False)
            for value, priority in (("Y * 2 + 1", first), ("Y * 10", second))
        ]
    for first, second, expected in ((2.0, 1.0, 10.0), (1.0, 2.0, 1.0)):
        network = jx.ReactionNetwork(
            [jx.Reaction("0 -> X", 1.0)], species=state, x0={"X": 0.0, "Y": 0.0},
            events=events(first, second),
        )
        final = jx.MeanFieldModel(network, rtol=1e-8, atol=1e-8)(network.x0, 2.0).x
        assert float(final[1]) == pytest.approx(expected), (first, second)


def _driven_event(x0: dict, rate: str, trigger: str, value: str, **options) -> jx.ReactionNetwork:
    """Two variables: the first driven by a rate rule, the second set by an event."""
    state = tuple(x0)
    return jx.ReactionNetwork(
        [], species=state, x0=x0, variables=state,
        rules=[RateRule(state[0], _function(rate, state))],
        events=[jx.StateEvent(_function(trigger, state), [(state[1], _function(value, state))],
                              **options)],
    )


def test_a_trigger_true_for_less_than_a_step_is_not_stepped_over():
    # K grows at rate 1, so the adaptive solver takes one long step; the trigger holds only
    # for K in (4.5, 4.6). The levels it compares (K - 4.5, K - 4.6) change sign within the
    # step, which finds the window (SBML test 01581 has one of 0.6 time units).
    network = _driven_event({"K": 0.0, "Y": 0.0}, "1", "K > 4.5 && K < 4.6", "Y + 1",
                            initial_value=False)
    results = jx.MeanFieldModel(network)(network.x0, 10.0, save_at=jnp.array([4.4, 4.55, 10.0]))
    np.testing.assert_allclose(results.x[:, 1], [0.0, 1.0, 1.0])


def test_a_level_at_its_threshold_up_to_rounding_does_not_stall_the_solve():
    # SBML test 01261: P grows as exp(0.01 t) and the trigger 0.01 P > 0.0105 is crossed so
    # slowly that after the crossing the level sits within rounding of 0 for many steps; its
    # sign must not be watched there (it flickers), or the solve ends piece after piece.
    network = _driven_event({"P": 1.0, "Q": 10.0}, "0.01 * P", "0.01 * P > 0.0105", "5")
    with jax.enable_x64(True):  # as the SBML suite runs
        results = jx.MeanFieldModel(network, rtol=1e-10, atol=1e-14)(
            jnp.array([1.0, 10.0]), 10.0, save_at=jnp.array([4.8, 4.9, 10.0])
        )
    assert not bool(results.overflow)
    np.testing.assert_allclose(results.x[:, 1], [10.0, 5.0, 5.0])


def test_equal_priorities_fire_in_random_order_reproducibly():
    # SBML test 01591's construction: a clock R (dR/dt = 1) reaches 0.01 every 0.01 time
    # units; two events of equal priority both trigger, the first carried out resets R, and
    # the other (not persistent) is dropped. Over 200 rounds each should win about half of
    # them: Binomial(200, 1/2) has sd 7.1, so [70, 130] is +-4.2 sd. List order would give
    # every round to the first.
    state = ("R", "A", "B")
    events = [
        jx.StateEvent(_function("R >= 0.01", state),
                      [("R", _function("0", state)), (counter, _function(f"{counter} + 1", state))],
                      priority=_function("1", state), persistent=False)
        for counter in ("A", "B")
    ]
    network = jx.ReactionNetwork(
        [], species=state, x0={"R": 0.0, "A": 0.0, "B": 0.0}, variables=state,
        rules=[RateRule("R", _function("1", state))], events=events,
    )
    model = jx.MeanFieldModel(network, rtol=1e-8, atol=1e-10, max_dt=0.005)
    final = model(network.x0, 2.0).x
    a, b = float(final[1]), float(final[2])
    assert a + b == pytest.approx(200, abs=1)
    assert 70 <= a <= 130, (a, b)
    np.testing.assert_array_equal(model(network.x0, 2.0).x, final)  # same draws every solve


@pytest.mark.parametrize("solver", sorted(JUMP_SOLVERS))
def test_jump_solvers_refuse_delayed_events_by_name(solver):
    network = delayed_reset()
    name = "LangevinModel" if solver == "CLE" else solver
    with pytest.raises(ValueError, match=f"{name} cannot simulate delayed, prioritised"):
        if solver == "CLE":
            jx.LangevinModel(network)(jax.random.key(0), network.x0, 1.0, save_at="final")
        else:
            jx.simulate(jax.random.key(0), network, network.x0, 1.0,
                        solver=JUMP_SOLVERS[solver], save_at="final")
