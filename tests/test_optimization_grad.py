import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jumpax.optimization.grad import gradfd, gradspsa


def smooth(params, scale):
    """A smooth, non-quadratic scalar function of a pytree."""
    w, b = params["w"], params["b"]
    return scale * jnp.sum(jnp.sin(w) * jnp.exp(0.3 * w)) + jnp.sum(b**3) + jnp.dot(w[:2], b)


def point(dtype):
    return {"w": jnp.array([0.3, -1.2, 2.0], dtype), "b": jnp.array([0.5, -0.7], dtype)}


def test_gradfd_matches_jax_grad_in_float64():
    with jax.enable_x64(True):
        params = point(jnp.float64)
        fd = gradfd(smooth)(params, 1.5)
        exact = jax.grad(smooth)(params, 1.5)
        for name in params:
            np.testing.assert_allclose(fd[name], exact[name], rtol=1e-7, atol=1e-9)


def test_gradfd_matches_jax_grad_in_float32_with_a_larger_step():
    params = point(jnp.float32)
    fd = gradfd(smooth, epsilon=1e-2)(params, 1.5)
    exact = jax.grad(smooth)(params, 1.5)
    for name in params:
        np.testing.assert_allclose(fd[name], exact[name], rtol=1e-3, atol=1e-3)


def test_gradfd_differentiates_only_floating_leaves_of_a_module():
    class Model(eqx.Module):
        weight: jax.Array
        count: jax.Array  # an integer array is not differentiated
        activation: str = eqx.field(static=True)

    def f(model):
        return jnp.sum(model.weight**2) * model.count

    model = Model(jnp.array([1.0, -2.0]), jnp.array(3), "tanh")
    fd = gradfd(f, epsilon=1e-3)(model)
    exact = eqx.filter_grad(f)(model)
    np.testing.assert_allclose(fd.weight, exact.weight, rtol=1e-3)
    assert fd.count is None


def test_gradspsa_converges_to_the_true_gradient():
    with jax.enable_x64(True):
        params = point(jnp.float64)
        exact = np.concatenate([np.asarray(v) for v in jax.grad(smooth)(params, 1.5).values()])
        errors = []
        for n in (10, 300, 10_000):
            estimate = gradspsa(smooth, num_samples=n, split_first_arg_key=False)(
                params, 1.5, key=jax.random.key(n)
            )
            errors.append(np.concatenate([np.asarray(v) for v in estimate.values()]) - exact)
        norms = [np.linalg.norm(e) for e in errors]
        assert norms[0] > norms[1] > norms[2]
        # One sample's error in component i has variance sum_{j != i} (g_j h_j / h_i)^2 with
        # the relative steps h_j = eps |x_j| (+ O(eps^2) bias).
        x = np.concatenate([np.asarray(v) for v in params.values()])
        cross = (exact * x) ** 2
        sd = np.sqrt(cross.sum() - cross) / np.abs(x) / np.sqrt(10_000)
        assert np.all(np.abs(errors[-1]) < 4 * sd)


def test_gradspsa_splits_the_function_key_for_common_random_numbers():
    def noisy(x, key):
        return jnp.sum(x**2) + jax.random.normal(key)  # the noise cancels in +/- differences

    x = jnp.array([1.0, 2.0])
    estimate = gradspsa(noisy, epsilon=1e-2, num_samples=2000)(
        x, jax.random.key(0), key=jax.random.key(1)
    )
    np.testing.assert_allclose(estimate, 2 * x, atol=0.15)  # sd 2/sqrt(2000) = 0.045


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="epsilon"):
        gradfd(smooth, epsilon=0.0)
    with pytest.raises(ValueError, match="epsilon"):
        gradspsa(smooth, epsilon=-1.0)
    with pytest.raises(ValueError, match="num_samples"):
        gradspsa(smooth, num_samples=0)
    with pytest.raises(ValueError, match="first argument after the differentiated one"):
        gradspsa(lambda x: jnp.sum(x))(jnp.ones(2), key=jax.random.key(0))
    with pytest.raises(ValueError, match="must return a scalar"):
        gradfd(lambda x: x)(jnp.ones(2))


def test_gradfd_on_python_floats_as_in_the_readme():
    np.testing.assert_allclose(gradfd(lambda k: k**2)(3.0), 6.0, rtol=1e-5)
    # the default step is relative and dtype-aware: no float32 cancellation at 1000
    np.testing.assert_allclose(gradfd(lambda k: k**2)(1000.0), 2000.0, rtol=1e-5)
    np.testing.assert_allclose(gradfd(lambda k: k**2)(jnp.float32(1e-4)), 2e-4, rtol=1e-3)
    grads = gradfd(lambda p: p["a"] ** 3 + p["b"])({"a": 2.0, "b": 1.5, "n": 3})
    np.testing.assert_allclose(grads["a"], 12.0, rtol=1e-4)
    assert grads["n"] is None


@pytest.mark.parametrize("x", [5e3, 1e-4])
def test_gradspsa_step_is_relative_to_the_parameter(x):
    # one parameter: every sample is the central difference along +-1, exact for a quadratic
    # up to rounding; a fixed absolute step would be below float32 resolution at 5e3
    g = gradspsa(lambda x, key: x**2, num_samples=3)(jnp.float32(x), KEY_F, key=KEY_F)
    np.testing.assert_allclose(g, 2 * x, rtol=1e-3)


KEY_F = jax.random.key(3)
