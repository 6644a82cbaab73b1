"""The peers' own usage, ported to jumpax as their users would port it (names adapted only).

Each port keeps the peer's code shape (the same calls, loops and numbers) and checks the
peer's own success criterion; the deliberate differences are listed in
``docs/peer-differences.md``.

- stochastix: the gene-expression REINFORCE notebook (``example-notebooks/
  simple-gene-expression.ipynb``) and the sensitivity-and-optimization guide (score function,
  pathwise, ``gradfd``, ``gradspsa``, an optimizer loop).
- coax: the ModelUpdater tests (``coax/model_updaters/_model_updater_test.py``) and the
  model-based CartPole example (``doc/examples/cartpole/model_based.py``), with a small
  hand-written value function in place of coax's TD-learned one.
"""

import equinox as eqx
import gymnasium
import jax
import jax.numpy as jnp
import jax.random as rng
import numpy as np
import optax
import pytest

import jumpax as jx
from jumpax.dynamics import StochasticTransitionModel, TransitionModel
from jumpax.model_updaters import ModelUpdater
from jumpax.optimization import (
    discounted_returns,
    neg_final_state_distance,
    reinforce_loss,
)
from jumpax.optimization import grad as optgrad
from jumpax.regularizers import EntropyRegularizer
from jumpax.transitions import TransitionBatch

# ----------------------------------------------------------------------------- stochastix


@pytest.mark.slow
def test_stochastix_gene_expression_reinforce_notebook():
    # The notebook trains four log-rates so that the protein count at T = 3600 s reaches 100
    # (from about 16) and shows the final mean over 1024 samples: 96.9 after 150 epochs.
    # Criterion here: within 15% of the target (jumpax, float32: 91.9).
    key = rng.PRNGKey(42)
    log_k_m = jnp.array(-4.7)
    log_k_p = jnp.array(-3.7)
    log_gamma_m = jnp.array(-5.2)
    log_gamma_p = jnp.array(-6.0)
    network = jx.ReactionNetwork(
        [
            jx.Reaction(
                "0 -> mRNA", jx.MassAction(log_k_m, transform=jnp.exp), name="transcription"
            ),
            jx.Reaction(
                "mRNA -> mRNA + P", jx.MassAction(log_k_p, transform=jnp.exp), name="translation"
            ),
            jx.Reaction(
                "mRNA -> 0", jx.MassAction(log_gamma_m, transform=jnp.exp), name="mrna_degradation"
            ),
            jx.Reaction(
                "P -> 0", jx.MassAction(log_gamma_p, transform=jnp.exp), name="protein_degradation"
            ),
        ],
        species=("P", "mRNA"),  # stochastix sorts species by name
    )
    model = jx.StochasticModel(network, jx.Direct(), t1=3600.0, max_steps=int(1e4))
    x0 = jnp.array([0.0, 0.0])
    rewards_fn = neg_final_state_distance(species="P", distance="L2")
    LOSS_FN = reinforce_loss()
    y = 100.0
    EPOCHS, LEARNING_RATE, BATCH_SIZE, REW_DISCOUNT = 150, 1e-2, 64, 1.0

    initial = model(rng.PRNGKey(1), x0, save_at="final", num_trajectories=1024)
    assert 12 < float(jnp.mean(initial.x[:, 0])) < 20

    loss_and_grads = eqx.filter_vmap(
        eqx.filter_value_and_grad(LOSS_FN), in_axes=(None, eqx.if_array(0), 0)
    )
    opt = optax.adam(LEARNING_RATE)
    opt_state = opt.init(eqx.filter(model, eqx.is_array))

    @eqx.filter_jit
    def make_step(model, opt_state, key):
        key, *subkeys = rng.split(key, BATCH_SIZE + 1)
        subkeys = jnp.array(subkeys)
        sim_results = eqx.filter_vmap(model, in_axes=(0, None))(subkeys, x0)
        rewards = eqx.filter_vmap(rewards_fn, in_axes=(eqx.if_array(0), None))(sim_results, y)
        returns = eqx.filter_vmap(discounted_returns, in_axes=(0, None))(rewards, REW_DISCOUNT)
        returns = returns - returns.mean(axis=0)  # rew_avg_baseline=True
        loss, grads = loss_and_grads(model, sim_results, returns)
        grads = jax.tree.map(lambda x: x.mean(axis=0), grads)
        updates, opt_state = opt.update(grads, opt_state, model)
        model = eqx.apply_updates(model, updates)
        return model, opt_state, key, loss

    for _ in range(EPOCHS):
        model, opt_state, key, _ = make_step(model, opt_state, key)

    final = model(rng.PRNGKey(1), x0, save_at="final", num_trajectories=1024)
    mean = float(jnp.mean(final.x[:, 0]))
    assert abs(mean - y) < 0.15 * y, mean
    assert float(model.network.volume) == 1.0  # only rates trained


NET_PROD = 5.0
NET_DEG = 0.1
T_GUIDE = 100.0


def _guide_network():
    return jx.ReactionNetwork(
        [
            jx.Reaction("0 -> A", jx.MassAction(jnp.array(NET_PROD)), name="prod"),
            jx.Reaction("A -> 0", jx.MassAction(NET_DEG), name="deg"),
        ]
    )


def _guide_dloss_dk():
    """d/dk E[(A_T - 20)^2] = (1 + 2 (m - 20)) dm/dk for A_T ~ Poisson(m), m = k (1 - e^-gT) / g."""
    dm_dk = (1 - np.exp(-NET_DEG * T_GUIDE)) / NET_DEG
    m = NET_PROD * dm_dk
    return (1 + 2 * (m - 20.0)) * dm_dk


def final_A_sqerr(results, TARGET_A: float = 20.0):
    return (results.x[-1, 0] - TARGET_A) ** 2


@pytest.mark.slow
def test_stochastix_guide_score_function_inside_the_loss():
    # The guide simulates inside the loss and calls eqx.filter_grad; batched over keys with
    # filter_vmap. Criterion (the guide shows none): the analytic derivative, -610, within
    # 4 standard errors of the mean over 4,000 keys.
    net = _guide_network()
    x0 = jnp.array([0.0])
    solver = jx.Direct()

    def score_loss(net, key):
        res = jx.simulate(key, net, x0, T_GUIDE, solver=solver, max_steps=int(2e3))
        r = -final_A_sqerr(res)
        returns = jnp.where(res.reactions >= 0, r, 0.0)
        return -reinforce_loss()(net, res, returns)

    key = jax.random.key(0)
    g_score = eqx.filter_grad(score_loss)(net, key)
    assert np.isfinite(float(g_score.reactions[0].kinetics.k))
    keys = jax.random.split(key, 4000)
    per_key = eqx.filter_jit(eqx.filter_vmap(eqx.filter_grad(score_loss), in_axes=(None, 0)))(
        net, keys
    )
    g = np.asarray(per_key.reactions[0].kinetics.k)
    se = g.std() / np.sqrt(len(g))
    assert se < 0.2 * _guide_dloss_dk()
    assert abs(g.mean() + _guide_dloss_dk()) < 4 * se, (g.mean(), se)


@pytest.mark.slow
def test_stochastix_guide_pathwise_fd_and_spsa():
    net = _guide_network()
    x0 = jnp.array([0.0])
    solver = jx.GumbelSoftmaxDirect()

    def pathwise_loss(net, key):
        res = jx.simulate(key, net, x0, T_GUIDE, solver=solver, save_at="final", max_steps=1500)
        return (res.x[0] - 20.0) ** 2

    key = jax.random.key(0)
    keys = jax.random.split(key, 256)
    per_key = eqx.filter_jit(eqx.filter_vmap(eqx.filter_grad(pathwise_loss), in_axes=(None, 0)))(
        net, keys
    )
    g = np.asarray(per_key.reactions[0].kinetics.k)
    # pathwise (relaxed, biased in general): within 4 SE + 5% of the analytic +610
    assert abs(g.mean() - _guide_dloss_dk()) < 4 * g.std() / 16 + 0.05 * _guide_dloss_dk()

    fd = optgrad.gradfd(pathwise_loss, epsilon=1e-2)
    g_fd = fd(net, key)  # one key: a derivative of that key's path, not of the expectation
    assert np.isfinite(float(g_fd.reactions[0].kinetics.k))
    assert jax.tree.structure(g_fd) == jax.tree.structure(net)

    spsa = optgrad.gradspsa(pathwise_loss, epsilon=1e-1, num_samples=64, split_first_arg_key=True)
    g_spsa = spsa(net, key, key=jax.random.key(1))  # one simulation key per SPSA sample
    # 64 samples, each with its own key and +-1 directions over both rates: within 25%
    assert abs(float(g_spsa.reactions[0].kinetics.k) - _guide_dloss_dk()) < 0.25 * _guide_dloss_dk()


@pytest.mark.slow
def test_stochastix_guide_optimizer_loop():
    # optax.adam(1e-2) initialised on the whole network, 100 filter_value_and_grad steps of the
    # pathwise loss: E[A_T] moves from 50 to the target 20; the volume stays. (In stochastix the
    # degradation rate, a Python float, is static; in jumpax every rate is a trainable array,
    # so both rates move: see docs/peer-differences.md.)
    net = _guide_network()
    x0 = jnp.array([0.0])
    solver = jx.GumbelSoftmaxDirect()

    def loss(net, key):
        keys = jax.random.split(key, 16)
        res = jax.vmap(
            lambda k: jx.simulate(
                k, net, x0, T_GUIDE, solver=solver, save_at="final", max_steps=1500
            )
        )(keys)
        return jnp.mean((res.x[:, 0] - 20.0) ** 2)

    opt = optax.adam(1e-2)
    opt_state = opt.init(net)

    @eqx.filter_jit
    def step(net, opt_state, key):
        value, grads = eqx.filter_value_and_grad(loss)(net, key)
        updates, opt_state = opt.update(grads, opt_state, params=net)
        return eqx.apply_updates(net, updates), opt_state, value

    key = jax.random.key(0)
    values = []
    for _ in range(100):
        key, sub = jax.random.split(key)
        net, opt_state, value = step(net, opt_state, sub)
        values.append(float(value))
    k, g = (float(r.kinetics.k) for r in net.reactions)
    mean_final = k * (1 - np.exp(-g * T_GUIDE)) / g
    assert abs(mean_final - 20.0) < 5.0, (k, g)
    assert np.mean(values[-10:]) < 0.2 * np.mean(values[:10])
    assert float(net.volume) == 1.0


# ----------------------------------------------------------------------------- coax


OBS_17_19 = gymnasium.spaces.Box(0.0, 1.0, shape=(17, 19))
ACT_3 = gymnasium.spaces.Discrete(3)


class FuncPType1(eqx.Module):
    """coax's func_p_type1: Linear(7) -> BatchNorm -> tanh -> Linear(3) -> tanh -> Linear(323)
    on the flattened observation and one-hot action; two heads, mu and logvar."""

    first: eqx.nn.Linear
    norm: eqx.nn.BatchNorm
    hidden: eqx.nn.Linear
    mu: eqx.nn.Linear
    logvar: eqx.nn.Linear

    def __init__(self, key):
        keys = jax.random.split(key, 4)
        self.first = eqx.nn.Linear(17 * 19 + 3, 7, key=keys[0])
        self.norm = eqx.nn.BatchNorm(7, axis_name="batch", mode="ema")
        self.hidden = eqx.nn.Linear(7, 3, key=keys[1])
        self.mu = eqx.nn.Linear(3, 17 * 19, key=keys[2])
        self.logvar = eqx.nn.Linear(3, 17 * 19, key=keys[3])

    def __call__(self, s, a, state):
        h, state = self.norm(self.first(jnp.concatenate([s, a])), state)
        h = jnp.tanh(self.hidden(jnp.tanh(h)))
        return {"mu": self.mu(h).reshape(17, 19), "logvar": self.logvar(h).reshape(17, 19)}, state


def _coax_transition_batch(batch_size=1, gamma=0.9, random_seed=42):
    """coax.utils.get_transition_batch: one random transition, In drawn from {0, gamma}."""
    rnd = np.random.RandomState(random_seed)
    return TransitionBatch(
        S=rnd.uniform(0, 1, size=(batch_size, 17, 19)).astype(np.float32),
        A=rnd.randint(3, size=batch_size),
        logP=np.log(np.clip(rnd.rand(batch_size), 0.01, 0.99)),
        Rn=np.clip(rnd.randn(batch_size), -5.0, 5.0),
        In=rnd.choice((0, gamma), batch_size),
        S_next=rnd.uniform(0, 1, size=(batch_size, 17, 19)).astype(np.float32),
        W=np.clip(rnd.rand(batch_size) / rnd.rand(batch_size), 0.01, 100.0),
    )


def _make_p(random_seed=11):
    func, state = eqx.nn.make_with_state(FuncPType1)(jax.random.key(random_seed))
    return StochasticTransitionModel(func, OBS_17_19, ACT_3, state=state)


def _pytree_not_equal(a, b):
    """coax's assertPytreeNotEqual: the largest relative difference exceeds 1%."""
    diffs = [
        np.max(np.abs(2 * (x - y) / (x + y + 1e-16)))
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
        if np.size(x) and jnp.issubdtype(jnp.result_type(x), jnp.floating)
    ]
    return max(diffs) > 0.01


def _pytree_almost_equal(a, b):
    return all(
        np.allclose(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


@pytest.mark.parametrize("In", [0.0, 0.9])
def test_coax_model_updater_update_type1(In):
    # coax's batch has In in {0, 0.9}: either way the update trains (In is not a mask)
    transition_batch = eqx.tree_at(lambda b: b.In, _coax_transition_batch(), jnp.array([In]))
    p = _make_p()
    updater = ModelUpdater(p, optimizer=optax.sgd(1.0))
    params = p.params
    function_state = p.function_state
    updater.update(transition_batch)
    assert _pytree_not_equal(params, p.params)
    assert _pytree_not_equal(function_state, p.function_state)


def test_coax_model_updater_policyreg():
    transition_batch = _coax_transition_batch()
    p = _make_p()
    params_init = p.params
    function_state_init = p.function_state
    ModelUpdater(p, optimizer=optax.sgd(1.0)).update(transition_batch)
    params_without_reg = p.params
    function_state_without_reg = p.function_state

    p = _make_p()  # same seed, same start
    assert _pytree_almost_equal(params_init, p.params)
    reg = EntropyRegularizer(p, beta=1.0)
    ModelUpdater(p, optimizer=optax.sgd(1.0), regularizer=reg).update(transition_batch)
    assert _pytree_not_equal(p.params, params_init)
    assert _pytree_not_equal(p.params, params_without_reg)  # <---- important
    assert _pytree_not_equal(p.function_state, function_state_init)
    assert _pytree_almost_equal(p.function_state, function_state_without_reg)  # same!


class FuncP(eqx.Module):
    """coax's func_p: the next state is the state plus a learned, action-dependent shift."""

    dS: eqx.nn.Linear

    def __call__(self, S, A):
        return S + self.dS(A)


def _cartpole_agent(env, gamma):
    dS = eqx.nn.Linear(2, 4, key=jax.random.key(0))
    dS = eqx.tree_at(lambda d: (d.weight, d.bias), dS, (jnp.zeros((4, 2)), jnp.zeros(4)))
    p = TransitionModel(FuncP(dS), env.observation_space, env.action_space)

    def func_v(S):
        # hand-written in place of coax's TD-learned v: keep angle + angular velocity at 0
        return -jnp.square(S[:, 3] + S[:, 2])

    def pi(s):
        # coax's SuccessorStateQ(v, p, r, gamma) with r = 1, then greedy (EpsilonGreedy, 0)
        S = jnp.broadcast_to(jnp.asarray(s, jnp.float32), (2, 4))
        return int(jnp.argmax(1.0 + gamma * func_v(p(S, jnp.arange(2)))))

    return p, pi


def _run_cartpole(train):
    env = gymnasium.make("CartPole-v0")
    gamma = 0.9
    p, pi = _cartpole_agent(env, gamma)
    sgd = optax.sgd(1e-3, momentum=0.9, nesterov=True)
    model_updater = ModelUpdater(p, optimizer=sgd)
    T, ep, avg_G, n = 0, 0, 0.0, 0
    while T < 100000:
        s, info = env.reset(seed=ep)
        G = 0.0
        for _ in range(env.spec.max_episode_steps):
            a = pi(s)
            s_next, r, done, truncated, info = env.step(a)
            G, T = G + r, T + 1
            if train:
                model_updater.update(
                    TransitionBatch(
                        S=s[None],
                        A=np.array([a]),
                        Rn=np.array([r]),
                        In=np.array([gamma * (1 - done)]),
                        S_next=s_next[None],
                    )
                )
            if done or truncated:
                break
            s = s_next
        ep, n = ep + 1, min(10, n + 1)
        avg_G += (G - avg_G) / n  # coax's TrainMonitor average
        # early stopping, as in the example
        if ep >= 5 and avg_G > env.spec.reward_threshold:
            return ep, avg_G, p
        if not train and ep >= 20:
            return ep, avg_G, p
    return ep, avg_G, p


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_coax_model_based_cartpole():
    # coax's docs: "this agent is able to learn the task within the first episode"; its loop
    # stops once 5 episodes are done and the average return exceeds CartPole-v0's 195.
    episodes, avg_G, p = _run_cartpole(train=True)
    assert episodes <= 10 and avg_G > 195, (episodes, avg_G)
    # the learned model: pushing right (action 1) lowers the angular velocity
    weight = np.asarray(p.params.dS.weight)
    assert weight[3, 1] < 0 < weight[3, 0]
    # control: the same agent with the model left untrained never balances the pole
    _, untrained_G, _ = _run_cartpole(train=False)
    assert untrained_G < 50
