import equinox as eqx
import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from scipy import stats

import jumpax as jx
import jumpax.control as jc

KEY = jax.random.key(0)


def small_gene_env(**kwargs):
    return jc.gene_expression_setpoint(horizon=kwargs.pop("horizon", 10), **kwargs)


# ------------------------------------------------------------------------------- inputs


def test_rate_input_sets_the_parameter_and_checks_the_network():
    net = jx.models.two_stage_gene_expression()
    control = jc.RateInput("transcription", gain=4.0, offset=1.0)
    control.check(net)
    new, x = control.apply(net, net.x0, jnp.float32(0.5))
    assert float(new.reactions[0].kinetics.k) == 3.0
    assert float(net.reactions[0].kinetics.k) == 1.0  # the original network is unchanged
    with pytest.raises(ValueError, match="unknown reaction 'light'"):
        jc.RateInput("light").check(net)
    with pytest.raises(ValueError, match="no parameter 'vmax'"):
        jc.RateInput("transcription", "vmax").check(net)
    with pytest.raises(ValueError, match="outside the parameter's domain"):
        jc.RateInput("transcription", offset=-1.0).check(net)
    with pytest.raises(ValueError, match="finite bounds"):
        jc.RateInput("transcription", low=1.0, high=0.0)
    hill = jx.models.toggle_switch()
    with pytest.raises(ValueError, match="positive"):
        jc.RateInput("U synthesis", "K", gain=1.0, offset=0.0).check(hill)  # K = 0 at u = 0


def test_species_input_sets_a_whole_count():
    net = jx.ReactionNetwork([jx.Reaction("I -> I + X", 1.0), jx.Reaction("X -> 0", 1.0)])
    control = jc.SpeciesInput("I", gain=10.0)
    control.check(net)
    _, x = control.apply(net, jnp.array([0, 7], jnp.int32), jnp.float32(0.46))
    np.testing.assert_array_equal(x, [5, 7])
    with pytest.raises(ValueError, match="unknown species|not a species|'Y'"):
        jc.SpeciesInput("Y").check(net)
    with pytest.raises(ValueError, match="-10 molecules"):
        jc.SpeciesInput("I", gain=10.0, low=-1.0).check(net)


def test_species_input_drives_the_dynamics_exactly():
    # X is produced at rate u * 10 (input species I held at 10 u) and decays at 1: the mean
    # after a long interval is 10 u.
    net = jx.ReactionNetwork(
        [jx.Reaction("I -> I + X", 1.0), jx.Reaction("X -> 0", 1.0)], x0={"I": 0, "X": 0}
    )
    env = jc.ControlEnv(
        net, [jc.SpeciesInput("I", gain=10.0)], jc.SetpointCost({"X": 5.0}),
        dt=10.0, horizon=1, observed=("X",),
    )
    episodes = jc.rollout(env, jc.ConstantController(0.8), KEY, 2000)
    final = np.asarray(episodes.states[:, -1, 1])
    assert abs(final.mean() - 8.0) < 4 * np.sqrt(8.0 / 2000)  # Poisson(8), n = 2000


# ------------------------------------------------------------------------ cost and env


def test_setpoint_cost_schedule_and_errors():
    cost = jc.SetpointCost({"P": [10.0, 20.0, 40.0]}, action_weight=0.5)
    np.testing.assert_allclose(cost.reference(1), [20.0])
    np.testing.assert_allclose(cost.reference(7), [40.0])  # past the end: the last row
    value = cost(jnp.array([30.0]), jnp.array([0.2]), 2)
    np.testing.assert_allclose(value, (10.0 / 40.0) ** 2 + 0.5 * 0.04, rtol=1e-6)
    with pytest.raises(ValueError, match="at least one"):
        jc.SetpointCost({})
    with pytest.raises(ValueError, match="non-negative"):
        jc.SetpointCost({"P": -1.0})
    with pytest.raises(ValueError, match="one length"):
        jc.SetpointCost({"P": [1.0, 2.0], "M": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="untracked"):
        jc.SetpointCost({"P": 1.0}, scale={"M": 1.0})


def test_control_env_refuses_bad_configurations():
    net = jx.models.two_stage_gene_expression()
    control = [jc.RateInput("transcription")]
    cost = jc.SetpointCost({"P": 100.0})
    with pytest.raises(ValueError, match="not observed"):
        jc.ControlEnv(net, control, cost, dt=1.0, horizon=5, observed=("M",))
    with pytest.raises(ValueError, match="dt"):
        jc.ControlEnv(net, control, cost, dt=0.0, horizon=5)
    with pytest.raises(ValueError, match="horizon"):
        jc.ControlEnv(net, control, cost, dt=1.0, horizon=0)
    with pytest.raises(ValueError, match="at least one input"):
        jc.ControlEnv(net, [], cost, dt=1.0, horizon=5)
    with pytest.raises(ValueError, match="noise_sd"):
        jc.ControlEnv(net, control, cost, dt=1.0, horizon=5, noise_sd=-1.0)


def test_functional_step_rewards_minus_the_cost_and_ends_at_the_horizon():
    env = small_gene_env(horizon=3)
    obs, state = env.reset(KEY)
    assert obs.shape == (1,) and int(state.k) == 0
    step = eqx.filter_jit(env.step)
    for k in range(3):
        obs, state, reward, done, info = step(jax.random.fold_in(KEY, k), state, jnp.array([2.0]))
        expected = -env.cost(state.x[1:].astype(jnp.float32), jnp.array([1.0]), k + 1)
        np.testing.assert_allclose(reward, expected, rtol=1e-6)  # the action was clipped to 1
        assert bool(done) == (k == 2)
    with pytest.raises(ValueError, match=r"shape \(1,\)"):
        env.step(KEY, state, jnp.zeros(2))


def test_transition_uses_absolute_time_so_time_events_fire():
    net = jx.ReactionNetwork(
        [jx.Reaction("0 -> X", 1.0)],
        x0={"X": 0},
        events=[jx.TimeEvent(3.0, [("X", lambda x: x[0] + 1000)])],
    )
    env = jc.ControlEnv(net, [jc.RateInput(0)], jc.SetpointCost({"X": 0.0}), dt=2.0, horizon=3)
    episodes = jc.rollout(env, jc.ConstantController(0.0), KEY, 4)
    np.testing.assert_array_equal(episodes.states[:, :, 0], [[0, 0, 1000, 1000]] * 4)


def test_rollout_vmaps_over_episodes_with_per_episode_actions():
    # Rate inputs differ per episode and per step: the batched simulation keeps them apart.
    env = small_gene_env(noise_sd=0.0, horizon=20)
    low = jc.rollout(env, jc.ConstantController(0.1), KEY, 300)
    high = jc.rollout(env, jc.ConstantController(0.9), KEY, 300)
    # Steady protein 200 u after 40 time units (4 protein lifetimes: 98% of the way).
    assert abs(float(low.states[:, -1, 1].mean()) - 20.0) < 3.0
    assert abs(float(high.states[:, -1, 1].mean()) - 180.0) < 8.0


# --------------------------------------------------------------------------- gymnasium


@pytest.mark.filterwarnings("ignore:.*Box observation space m.*:UserWarning")
@pytest.mark.parametrize("env_id", list(jc.ENVIRONMENTS))
def test_registered_environments_pass_gymnasium_check_env(env_id):
    env = gymnasium.make(f"jumpax.control:{env_id}", horizon=5)
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=3)
    assert env.observation_space.contains(obs)
    assert env.action_space.shape == (len(env.unwrapped.env.inputs),)


def test_same_seed_same_episode_in_both_faces():
    gym_env = gymnasium.make("jumpax.control:GeneExpressionSetpoint-v0", horizon=6).unwrapped
    action = np.array([0.7], np.float32)
    for seed in (0, 5):
        obs, _ = gym_env.reset(seed=seed)
        observations, rewards = [obs], []
        truncated = False
        while not truncated:
            obs, reward, terminated, truncated, info = gym_env.step(action)
            assert not terminated
            observations.append(obs)
            rewards.append(reward)
        keys = jax.random.key(seed)[None]
        episode = jax.tree.map(
            lambda a: a[0], jc.rollout(gym_env.env, jc.ConstantController(action), keys)
        )
        np.testing.assert_array_equal(np.stack(observations), episode.observations)
        np.testing.assert_allclose(rewards, episode.rewards, rtol=1e-6)
    with pytest.raises(RuntimeError, match="reset"):
        gym_env.step(action)
    gym_env.reset(seed=1)
    with pytest.raises(ValueError, match="finite"):
        gym_env.step(np.array([np.nan], np.float32))


@pytest.mark.slow
def test_both_faces_give_the_same_distribution_for_the_same_policy():
    # The same proportional policy run 150 times in each face; the final protein counts must
    # come from one distribution (two-sample KS test at level 0.001, seeds fixed), and
    # consecutive unseeded resets must give distinct episodes.
    env = small_gene_env(horizon=8)
    policy = jc.PIController(env, 2.0, 0.0, 0.5)
    functional = jc.rollout(env, policy, jax.random.key(11), 150)
    gym_env = jc.ReactionNetworkEnv(env)
    finals = []
    gym_env.reset(seed=123)
    for _ in range(150):
        obs, info = gym_env.reset()
        carry, truncated = policy.init(env, obs), False
        while not truncated:
            state = jc.EnvState(x=jnp.asarray(info["x"]), k=jnp.int32(info["k"]))
            action, carry = policy(KEY, carry, jnp.asarray(obs), state)
            obs, _, _, truncated, info = gym_env.step(np.asarray(action))
        finals.append(info["x"][1])
    assert len(set(finals)) > 30
    result = stats.ks_2samp(np.asarray(functional.states[:, -1, 1]), np.asarray(finals))
    assert result.pvalue > 1e-3


# ------------------------------------------------------------------------- controllers


def test_pi_controller_pairs_inputs_with_tracked_species_and_stays_in_bounds():
    env = small_gene_env()
    pi = jc.PIController(env, 5.0, 1.0, 0.5)
    carry = pi.init(env, jnp.zeros(1))
    state = jc.EnvState(x=jnp.array([0, 0], jnp.int32), k=jnp.int32(0))
    action, carry = pi(KEY, carry, jnp.array([0.0]), state)  # far below the set-point
    np.testing.assert_allclose(action, [1.0])  # saturated at the bound
    np.testing.assert_allclose(carry, [0.0])  # and the integral did not wind up
    two_inputs = jc.toggle_switch_balance()
    with pytest.raises(ValueError, match="pairs inputs"):
        jc.PIController(
            jc.ControlEnv(
                two_inputs.network, two_inputs.inputs, jc.SetpointCost({"U": 30.0}),
                dt=1.0, horizon=5,
            ),
            1.0, 0.0, 0.5,
        )


def test_mpc_refuses_bad_sizes():
    env = small_gene_env()
    with pytest.raises(ValueError, match="elites"):
        jc.MPCController(env, jc.ExactModel(env), population=4, elites=8)
    with pytest.raises(ValueError, match="lookahead"):
        jc.MPCController(env, jc.ExactModel(env), lookahead=0)


@pytest.mark.slow
def test_oracle_mpc_beats_the_constant_input_on_a_short_episode():
    # From an empty cell, the planner switches the light fully on to reach the first set-point
    # quickly; the constant input creeps up. 16 episodes each, the same keys.
    env = small_gene_env(horizon=6)
    constant = jc.rollout(env, jc.ConstantController(0.25), KEY, 16)
    planner = jc.MPCController(env, jc.ExactModel(env), population=8, elites=2, samples=2)
    mpc = jc.rollout(env, planner, KEY, 16)
    assert float(mpc.actions[:, 0].mean()) > 0.9
    assert float(mpc.mean_cost) < 0.6 * float(constant.mean_cost)


@pytest.mark.slow
def test_learned_model_plans_on_fitted_dynamics():
    env = small_gene_env(horizon=10)
    data, episodes = jc.collect_transitions(env, jc.RandomController(env), KEY, 32)
    assert len(data) == 320 and data.A.shape == (320, 1)
    np.testing.assert_array_equal(data.S_next[:10, 0], episodes.observations[0, 1:, 0])
    model = jc.fit_dynamics(jax.random.key(1), env, data, steps=300)
    planner = jc.LearnedModel(model, env)
    # More light, more protein one interval later (the fitted mean, from 50 molecules).
    mean = lambda u: float(model.mode(jnp.array([[50.0]]), jnp.array([[u]]))[0, 0])  # noqa: E731
    assert mean(1.0) > mean(0.0) + 10.0
    sample = planner.predict(KEY, jnp.array([50.0]), jnp.array([0.5]), jnp.int32(0))
    assert sample.shape == (1,) and np.isfinite(float(sample[0]))


@pytest.mark.slow
@pytest.mark.parametrize("env_id", list(jc.ENVIRONMENTS))
def test_learned_mpc_beats_the_baselines_and_nears_the_oracle(env_id):
    # The must-show of model-based control, with the command's defaults: learned MPC beats the
    # tuned constant input and the tuned PI controller, and is within 25% of the oracle.
    env = gymnasium.make(f"jumpax.control:{env_id}").unwrapped.env
    costs = {
        name: entry["cost"]
        for name, entry in jc.compare_controllers(env, jax.random.key(0))["controllers"].items()
    }
    assert costs["learned_mpc"] < costs["pi"] < costs["constant"]
    assert costs["learned_mpc"] < 1.25 * costs["oracle_mpc"]


@pytest.mark.slow
def test_docs_control_examples_run():
    import pathlib
    import re

    text = (pathlib.Path(__file__).parents[1] / "docs" / "control.md").read_text()
    namespace: dict = {}
    for block in re.findall(r"```python\n(.*?)```", text, flags=re.S):
        exec(compile(block, "docs/control.md", "exec"), namespace)  # noqa: S102 (our own docs)
    assert namespace["episodes"].states.shape == (1000, 21, 2)
    assert len(namespace["more"]) == 8 * 20
