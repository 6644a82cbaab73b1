import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jumpax import value_losses
from jumpax.value_losses import huber, logloss, logloss_sign, mse, weighted_mean

RNG = np.random.default_rng(0)
Y_TRUE = RNG.normal(size=(6, 3)).astype(np.float32)
Y_PRED = (Y_TRUE + 2 * RNG.normal(size=(6, 3))).astype(np.float32)
W = np.array([1.0, 2.0, 0.5, 1.0, 0.0, 3.0], np.float32)


def _huber(e, delta):
    a = np.abs(e)
    return np.where(a <= delta, 0.5 * e**2, delta * (a - 0.5 * delta))


def _weighted(elementwise, w):
    """coax's reduction: the mean over all elements of the per-sample weight times the loss."""
    return np.mean(w.reshape(-1, *(1,) * (elementwise.ndim - 1)) * elementwise)


@pytest.mark.parametrize(
    "loss, reference",
    [
        (mse, lambda t, p: 0.5 * (p - t) ** 2),
        (huber, lambda t, p: _huber(p - t, 1.0)),
        (lambda t, p, w: huber(t, p, w, delta=0.3), lambda t, p: _huber(p - t, 0.3)),
    ],
)
def test_regression_losses_match_closed_form(loss, reference):
    expected = _weighted(reference(Y_TRUE, Y_PRED), W)
    np.testing.assert_allclose(loss(Y_TRUE, Y_PRED, W), expected, rtol=1e-6)
    np.testing.assert_allclose(
        loss(Y_TRUE, Y_PRED, None), np.mean(reference(Y_TRUE, Y_PRED)), rtol=1e-6
    )


def test_logistic_losses_match_closed_form():
    labels = (RNG.uniform(size=(6, 2)) < 0.5).astype(np.float32)
    p = RNG.uniform(0.05, 0.95, size=(6, 2)).astype(np.float32)
    bce = -(labels * np.log(p) + (1 - labels) * np.log(1 - p))
    np.testing.assert_allclose(logloss(labels, p, W), _weighted(bce, W), rtol=1e-5)
    logits = np.log(p) - np.log1p(-p)
    signs = 2 * labels - 1
    np.testing.assert_allclose(logloss_sign(signs, logits, W), _weighted(bce, W), rtol=1e-5)


def test_logloss_does_not_clip_certain_wrong_predictions():
    assert jnp.isinf(logloss(jnp.array([0.0]), jnp.array([1.0])))


@pytest.mark.parametrize("loss", [mse, huber])
def test_zero_weight_sample_contributes_nothing_even_nan(loss):
    # As in coax the mean runs over the whole batch; a weight-0 sample adds exactly 0 to the
    # value and the gradient, even where its prediction is NaN (coax would give NaN).
    keep = W > 0
    y_pred = Y_PRED.copy()
    y_pred[~keep] = np.nan
    full, grad_full = jax.value_and_grad(loss, argnums=1)(Y_TRUE, y_pred, W)
    assert np.isfinite(full) and np.all(np.isfinite(grad_full))
    np.testing.assert_array_equal(grad_full[~keep], 0.0)
    kept = loss(Y_TRUE[keep], Y_PRED[keep], W[keep])
    np.testing.assert_allclose(full, kept * keep.sum() / len(W), rtol=1e-6)


def test_weights_scale_the_loss():
    # Not normalised (coax): an importance weight of 10 is a loss 10 times larger.
    np.testing.assert_allclose(mse(Y_TRUE, Y_PRED, 10 * W), 10 * mse(Y_TRUE, Y_PRED, W), rtol=1e-6)


def test_mse_is_half_the_squared_error_averaged_over_elements():
    assert float(mse(jnp.zeros((2, 3)), jnp.full((2, 3), 2.0))) == 2.0


def test_all_zero_weights_give_zero_loss_and_gradient():
    value, grad = jax.value_and_grad(mse, argnums=1)(Y_TRUE, Y_PRED, np.zeros(6, np.float32))
    assert value == 0.0
    np.testing.assert_array_equal(grad, 0.0)


def test_weighted_mean():
    np.testing.assert_allclose(weighted_mean(jnp.array([1.0, 3.0]), jnp.array([1.0, 3.0])), 5.0)
    np.testing.assert_allclose(
        weighted_mean(jnp.array([[1.0, 3.0], [2.0, 2.0]]), jnp.array([2.0, 0.0])), 2.0
    )
    np.testing.assert_allclose(weighted_mean(jnp.array([1.0, 3.0])), 2.0)


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="y_true has shape"):
        mse(jnp.zeros((4,)), jnp.zeros((4, 1)))
    with pytest.raises(ValueError, match="leading sample axis"):
        mse(jnp.zeros(()), jnp.zeros(()))
    with pytest.raises(ValueError, match="sample weights"):
        mse(jnp.zeros((4, 2)), jnp.zeros((4, 2)), jnp.ones((4, 2)))


def test_get_by_name():
    assert value_losses.get("huber") is huber
    with pytest.raises(ValueError, match="unknown loss function 'l1'"):
        value_losses.get("l1")
