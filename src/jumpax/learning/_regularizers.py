"""Regularizers of stochastic dynamics models: penalties on the predicted distributions.

A regularizer is built from the (stochastic) model it regularizes and passed to
:class:`jumpax.model_updaters.ModelUpdater`, which adds its loss to the model's loss. The penalty
is averaged over a batch with the same sample weights as the loss itself.

Example:
    >>> import equinox as eqx, gymnasium, jax
    >>> from jumpax.dynamics import ConcatInputs, StochasticRewardFunction
    >>> from jumpax.regularizers import EntropyRegularizer
    >>> box = gymnasium.spaces.Box(-1.0, 1.0, shape=(2,))
    >>> model = StochasticRewardFunction(
    ...     ConcatInputs(eqx.nn.MLP(4, 2, 8, 1, key=jax.random.key(0))), box, box
    ... )
    >>> regularizer = EntropyRegularizer(model, beta=0.01)
"""

import abc

import equinox as eqx
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from ._dynamics import AbstractDynamicsModel, AbstractProbaDist
from ._value_losses import weighted_mean

__all__ = ["AbstractRegularizer", "EntropyRegularizer", "KLDivRegularizer"]


def _distribution_of(model: AbstractDynamicsModel, regularizer: str) -> AbstractProbaDist:
    """The target distribution family of a stochastic model; refuse a deterministic one."""
    if not model.stochastic:
        raise ValueError(
            f"{regularizer} regularizes predicted distributions, but {type(model).__name__} is "
            "deterministic; use a stochastic model"
        )
    return model.distribution


class AbstractRegularizer(eqx.Module):
    """A penalty on a stochastic model's distribution parameters.

    Attributes:
        distribution: The distribution family of the regularized model.
        beta: The strength of the penalty.
    """

    distribution: AbstractProbaDist
    beta: float

    @abc.abstractmethod
    def __call__(
        self, dist_params: dict[str, Array], w: ArrayLike | None = None
    ) -> tuple[Array, dict[str, Array]]:
        """The penalty on a batch of distributions.

        Args:
            dist_params: Distribution parameters with a leading batch axis.
            w: Sample weights, shape ``(batch,)``; ``None`` means weights of 1.

        Returns:
            ``(loss, metrics)``: the weighted penalty (a scalar added to the model's loss) and a
            flat dict of scalar metrics keyed ``"<RegularizerName>/<name>"``.
        """


class EntropyRegularizer(AbstractRegularizer):
    """Rewards entropy: ``loss = -beta * H``, with ``H`` the weighted mean entropy.

    Keeps a predicted distribution from becoming overconfident. Metrics:
    ``EntropyRegularizer/entropy`` and ``EntropyRegularizer/loss``.

    Args:
        model: The stochastic model to regularize.
        beta: The strength of the penalty.

    Raises:
        ValueError: If ``model`` is deterministic.
    """

    def __init__(self, model: AbstractDynamicsModel, beta: float = 0.001):
        self.distribution = _distribution_of(model, type(self).__name__)
        self.beta = beta

    def __call__(
        self, dist_params: dict[str, Array], w: ArrayLike | None = None
    ) -> tuple[Array, dict[str, Array]]:
        """See :meth:`AbstractRegularizer.__call__`."""
        entropy = weighted_mean(self.distribution.entropy(dist_params), w)
        loss = -self.beta * entropy
        return loss, {"EntropyRegularizer/entropy": entropy, "EntropyRegularizer/loss": loss}


class KLDivRegularizer(AbstractRegularizer):
    """Pulls predictions towards a prior: ``loss = beta * KL(p || priors)`` (weighted mean).

    Metrics: ``KLDivRegularizer/kl_div`` and ``KLDivRegularizer/loss``.

    Args:
        model: The stochastic model to regularize.
        beta: The strength of the penalty.
        priors: Parameters of the prior, with the keys of the model's distribution parameters
            (``{"mu", "logvar"}`` or ``{"logits"}``), each broadcastable against one sample's
            parameters. ``None`` means the standard normal, or the uniform categorical.

    Attributes:
        priors: The parameters of the prior.

    Raises:
        ValueError: If ``model`` is deterministic or ``priors`` has the wrong keys or shapes.
    """

    priors: dict[str, Array]

    def __init__(
        self,
        model: AbstractDynamicsModel,
        beta: float = 0.001,
        priors: dict[str, ArrayLike] | None = None,
    ):
        self.distribution = _distribution_of(model, type(self).__name__)
        self.beta = beta
        defaults = self.distribution.default_priors()
        priors = defaults if priors is None else {k: jnp.asarray(v) for k, v in priors.items()}
        if set(priors) != set(defaults):
            raise ValueError(f"priors have keys {sorted(priors)}, expected {sorted(defaults)}")
        for name, value in priors.items():
            try:
                jnp.broadcast_shapes(value.shape, defaults[name].shape)
            except ValueError:
                raise ValueError(
                    f"prior {name!r} has shape {value.shape}, which does not broadcast against "
                    f"one sample's shape {defaults[name].shape}"
                ) from None
        self.priors = priors

    def __call__(
        self, dist_params: dict[str, Array], w: ArrayLike | None = None
    ) -> tuple[Array, dict[str, Array]]:
        """See :meth:`AbstractRegularizer.__call__`."""
        kl_div = weighted_mean(self.distribution.kl_divergence(dist_params, self.priors), w)
        loss = self.beta * kl_div
        return loss, {"KLDivRegularizer/kl_div": kl_div, "KLDivRegularizer/loss": loss}
