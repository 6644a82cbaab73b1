"""Ensembles are sharded across devices: 2 host devices give the unsharded results exactly."""

import os
import pathlib
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jumpax as jx

N = 1001  # not a multiple of the device count: exercises the padding
TS = jnp.linspace(0.0, 50.0, 11)


def _unsharded(mode):
    net = jx.models.dimerisation()
    save_at = TS if mode == "grid" else "final"
    return jx.simulate(jax.random.key(9), net, net.x0, 50.0, save_at=save_at, num_trajectories=N)


def _run_on_two_devices(script):
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2")
    src = pathlib.Path(jx.__file__).parents[1]
    env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")])
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=600)


@pytest.mark.slow
def test_pathwise_gradients_with_two_devices():
    """Pathwise solvers are differentiated through the loop: they run unsharded, and work."""
    _run_on_two_devices(
        textwrap.dedent(
            """
            import jax, equinox as eqx, numpy as np
            import jumpax as jx
            assert jax.device_count() == 2
            net = jx.models.birth_death()
            model = jx.StochasticModel(net, jx.GumbelSoftmaxDirect(0.5), 5.0, 200)
            def mean_final(m):
                return m(jax.random.key(0), net.x0, save_at="final", num_trajectories=8).x.mean()
            grads = eqx.filter_grad(mean_final)(model)
            assert np.isfinite(float(grads.network.reactions[0].kinetics.k))
            """
        )
    )


@pytest.mark.slow
def test_two_host_devices_match_one(tmp_path):
    script = textwrap.dedent(
        f"""
        import jax, jax.numpy as jnp, numpy as np
        import jumpax as jx
        assert jax.device_count() == 2, jax.devices()
        net = jx.models.dimerisation()
        out = {{}}
        for mode, save_at in (("grid", jnp.linspace(0.0, 50.0, 11)), ("final", "final")):
            res = jx.simulate(jax.random.key(9), net, net.x0, 50.0, save_at=save_at,
                              num_trajectories={N})
            out[mode] = np.asarray(res.x)
            out[mode + "_steps"] = np.asarray(res.n_steps)
        np.savez({str(tmp_path / "sharded.npz")!r}, **out)
        """
    )
    _run_on_two_devices(script)
    sharded = np.load(tmp_path / "sharded.npz")
    for mode in ("grid", "final"):
        reference = _unsharded(mode)
        np.testing.assert_array_equal(sharded[mode], reference.x)
        np.testing.assert_array_equal(sharded[mode + "_steps"], reference.n_steps)
    # identical paths imply identical statistics; the paths also conserve P + 2 P2
    p_final = sharded["final"][:, 0]
    assert np.all(p_final + 2 * sharded["final"][:, 1] == 100)
