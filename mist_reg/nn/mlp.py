r"""Multi-layer perceptrons, the building block of critics, baselines and densities."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import nn

__all__ = ["mlp", "check_hidden_dims"]


def mlp(
    in_dim: int,
    hidden_dims: Sequence[int],
    out_dim: int,
    activation: Callable[[], nn.Module] = nn.ReLU,
) -> nn.Sequential:
    r"""Builds a fully connected network ``in_dim -> hidden_dims... -> out_dim``.

    Arguments:
        in_dim: The number of input features.
        hidden_dims: The width of each hidden layer, in order (may be empty).
        out_dim: The number of output features.
        activation: A constructor of the non-linearity placed after each hidden layer.

    Example:
        >>> net = mlp(3, [16, 16], 1)
        >>> net
        Sequential(
          (0): Linear(in_features=3, out_features=16, bias=True)
          (1): ReLU()
          (2): Linear(in_features=16, out_features=16, bias=True)
          (3): ReLU()
          (4): Linear(in_features=16, out_features=1, bias=True)
        )
    """
    for name, value in (("in_dim", in_dim), ("out_dim", out_dim)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    hidden = check_hidden_dims(hidden_dims)
    layers: list[nn.Module] = []
    widths = [in_dim, *hidden]
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), activation()]
    layers.append(nn.Linear(widths[-1], out_dim))
    return nn.Sequential(*layers)


def check_hidden_dims(hidden_dims: Sequence[int]) -> list[int]:
    r"""``hidden_dims`` as a list, or ``ValueError`` where a width is not a positive integer.

    Example:
        >>> check_hidden_dims((16, 8))
        [16, 8]
    """
    hidden = list(hidden_dims)
    if any(not isinstance(h, int) or h < 1 for h in hidden):
        raise ValueError(f"hidden_dims must be positive integers, got {hidden_dims!r}")
    return hidden
