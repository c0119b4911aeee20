r"""Typed run configurations: dataclass defaults, an optional config file, command-line overrides.

A recipe declares its settings as a :func:`dataclasses.dataclass` whose fields carry
type hints and a ``help`` entry in their metadata (see :func:`option`).
:func:`parse_config` turns it into a command line, in this order of precedence:

1. the dataclass defaults;
2. the keys of ``--config FILE`` (JSON, or TOML read with :mod:`tomllib`), where an
   unknown key is an error that lists the valid ones;
3. the flags given on the command line (``--batch-size 64``, ``--weights 0,0.1,1``,
   ``--compile`` / ``--no-compile`` for booleans).

Supported field types: ``int``, ``float``, ``str``, ``bool``, ``X | None`` of those, and
``tuple[float, ...]`` / ``tuple[int, ...]`` / ``tuple[str, ...]`` written as a
comma-separated list on the command line (a list in a file).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import tomllib

from .data import DATASETS
from .models import backbone_name
from .validation import Check, at_least, available_device, in_interval, non_negative, positive, run_folder, validate

__all__ = [
    "option",
    "parse_config",
    "config_to_dict",
    "config_from_dict",
    "load_config_file",
    "BaseConfig",
    "BASE_CHECKS",
]

C = TypeVar("C")


def option(
    default: Any, help: str, choices: Sequence[str] | None = None, check: Callable[[Any], None] | None = None
) -> Any:
    r"""A dataclass field with a help text (and, for strings, the valid choices, or a
    ``check`` that raises a ``ValueError`` for an invalid value)."""
    metadata: dict[str, Any] = {"help": help}
    if choices is not None:
        metadata["choices"] = tuple(choices)
    if check is not None:
        metadata["check"] = check
    if isinstance(default, (list, dict, set)):
        raise TypeError("use a tuple for a sequence default (configs are immutable values)")
    return dataclasses.field(default=default, metadata=metadata)


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0], True
        raise TypeError(f"unsupported union type {hint!r}: only X | None is supported")
    return hint, False


def _convert(name: str, hint: Any, value: Any) -> Any:
    r"""Converts ``value`` (a string from the command line, or a value from a file) to ``hint``."""
    inner, optional = _unwrap_optional(hint)
    if value is None or (optional and isinstance(value, str) and value.lower() in ("none", "null", "")):
        if optional:
            return None
        raise ValueError(f"{name} cannot be empty")
    if typing.get_origin(inner) is tuple:
        item_type = typing.get_args(inner)[0]
        items = [v for v in value.split(",") if v.strip()] if isinstance(value, str) else list(value)
        return tuple(_convert(name, item_type, item) for item in items)
    if inner is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{name} expects a boolean (true/false), got {value!r}")
    if inner is int:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{name} expects an integer, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} expects an integer, got {value!r}") from None
    if inner is float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} expects a number, got {value!r}") from None
        if not math.isfinite(number):
            raise ValueError(f"{name} expects a finite number, got {value!r}")
        return number
    if inner is str:
        return str(value)
    raise TypeError(f"unsupported field type {hint!r} for {name}")


def _fields(cls: type) -> list[tuple[dataclasses.Field, Any]]:
    hints = typing.get_type_hints(cls)
    return [(f, hints[f.name]) for f in dataclasses.fields(cls) if f.init]


def _check_choices(config: Any) -> None:
    for field, _ in _fields(type(config)):
        choices = field.metadata.get("choices")
        value = getattr(config, field.name)
        if choices and value is not None and value not in choices:
            raise ValueError(f"invalid {field.name} {value!r}; valid choices: {', '.join(choices)}")
        check = field.metadata.get("check")
        if check is not None:
            validate(config, {field.name: check})


def config_from_dict(cls: type[C], values: dict[str, Any], base: C | None = None, flags: bool = False) -> C:
    r"""A ``cls`` instance from ``base`` (or the defaults) updated with ``values``; unknown
    keys raise a ``ValueError`` that lists the valid ones. With ``flags``, a value that does
    not convert is named by its command-line flag (``--weights``), else by its key."""
    known = {f.name: hint for f, hint in _fields(cls)}
    unknown = sorted(k for k in values if k.replace("-", "_") not in known)
    if unknown:
        raise ValueError(f"unknown config keys {unknown}; valid keys: {', '.join(sorted(known))}")
    converted = {k.replace("-", "_"): v for k, v in values.items()}
    converted = {k: _convert("--" + k.replace("_", "-") if flags else k, known[k], v) for k, v in converted.items()}
    config = dataclasses.replace(base, **converted) if base is not None else cls(**converted)
    _check_choices(config)
    return config


def config_to_dict(config: Any) -> dict[str, Any]:
    r"""The fields of ``config`` as JSON-ready values (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}


def load_config_file(path: str | Path) -> dict[str, Any]:
    r"""The keys of a JSON (``.json``) or TOML (``.toml``) config file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    if path.suffix == ".json":
        values = json.loads(path.read_text())
    elif path.suffix == ".toml":
        values = tomllib.loads(path.read_text())
    else:
        raise ValueError(f"config file {path} must end in .json or .toml")
    if not isinstance(values, dict):
        raise ValueError(f"config file {path} must hold a mapping of keys to values")
    return values


class _OneLineParser(argparse.ArgumentParser):
    """Reports a usage error as one line, ``PROG: error: MESSAGE``, and exit status 2 (the
    usage summary of a recipe runs to 20 lines or more; ``--help`` prints it)."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def refuse(self, message: str) -> typing.NoReturn:
        r"""Exits with status 2 and ``message`` (an invalid setting, which names its flag) as one line."""
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")


def parse_config(cls: type[C], argv: Sequence[str] | None = None, description: str | None = None) -> C:
    r"""Parses ``argv`` (``sys.argv[1:]`` if ``None``) into a ``cls`` instance.

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class Config:
        ...     lr: float = option(1e-3, "learning rate")
        ...     weights: tuple[float, ...] = option((0.0, 1.0), "penalty weights")
        ...     compile: bool = option(False, "compile the model")
        >>> parse_config(Config, ["--lr", "0.1", "--weights", "0,0.5", "--compile"])
        Config(lr=0.1, weights=(0.0, 0.5), compile=True)
    """
    parser = _OneLineParser(description=description)
    parser.add_argument("--config", type=Path, default=None, help="JSON or TOML file of settings (flags override it)")
    for field, hint in _fields(cls):
        flag = "--" + field.name.replace("_", "-")
        inner, _ = _unwrap_optional(hint)
        help_text = field.metadata.get("help", "")
        choices = field.metadata.get("choices")
        if choices:
            help_text += f" (choices: {', '.join(choices)})"
        if inner is bool:
            shown = "on" if field.default else "off"
            parser.add_argument(
                flag,
                dest=field.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=f"{help_text} [{shown}]",
            )
        else:
            default = field.default
            shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
            parser.add_argument(
                flag, dest=field.name, default=None, metavar=field.name.upper(), help=f"{help_text} [{shown}]"
            )
    args = parser.parse_args(argv)
    config = cls()
    try:
        if args.config is not None:
            try:
                config = config_from_dict(cls, load_config_file(args.config), config)
            except (ValueError, TypeError) as error:
                raise ValueError(f"in {args.config}: {error}") from None
        overrides = {k: v for k, v in vars(args).items() if k != "config" and v is not None}
        return config_from_dict(cls, overrides, config, flags=True)
    except (ValueError, OSError) as error:  # a usage error: one line, exit status 2
        parser.refuse(str(error))


@dataclass
class BaseConfig:
    r"""Settings every recipe shares; each recipe subclasses it (and may change defaults)."""

    out: str = option("runs/recipe/default", "run folder: config, metrics, checkpoints, plots, summary")
    data: str = option("digits", "dataset", choices=DATASETS)
    data_dir: str = option("data", "folder of the torchvision datasets")
    download: bool = option(False, "download a torchvision dataset into --data-dir if it is missing")
    image_size: int | None = option(None, "resize images to this size (default: 16 for digits, native otherwise)")
    backbone: str = option("cnn", "encoder: cnn, mlp, a timm model name, or torchvision/NAME")
    width: int = option(32, "width of the built-in cnn/mlp encoders")
    steps: int = option(500, "optimisation steps")
    batch_size: int = option(256, "global batch size (split across processes)")
    lr: float = option(2e-3, "learning rate (AdamW, cosine decay after a linear warm-up)")
    weight_decay: float = option(1e-4, "AdamW weight decay")
    warmup: float = option(0.05, "fraction of the steps spent warming the learning rate up")
    seed: int = option(0, "seed of the initialisation, batches and augmentations")
    device: str = option("auto", "device: auto, cpu, cuda, cuda:N or mps")
    amp: bool = option(True, "bf16 autocast on CUDA (ignored elsewhere)")
    compile: bool = option(False, "compile the encoder with torch.compile")
    threads: int = option(0, "CPU threads for torch (0: torch's default)")
    log_every: int = option(10, "steps between records of the metrics log")
    checkpoint_every: int = option(100, "steps between checkpoints")
    progress: bool = option(True, "show progress bars (rank 0 only)")
    resume: bool = option(True, "continue the run found in --out (--no-resume starts afresh)")

    def __post_init__(self) -> None:
        # the checks of every recipe's shared fields live here, not in the fields, which
        # subclasses redeclare with their own defaults
        validate(self, BASE_CHECKS)
        _check_choices(self)


BASE_CHECKS: dict[str, Check] = {
    "out": run_folder,
    "device": available_device,
    "backbone": backbone_name,
    "image_size": at_least(1),
    "width": at_least(1),
    "steps": at_least(1),
    "batch_size": at_least(2),
    "lr": positive,
    "weight_decay": non_negative,
    "warmup": in_interval(0, 1, closed="left"),
    "threads": at_least(0),
    "log_every": at_least(1),
    "checkpoint_every": at_least(1),
}
r"""The checks :class:`BaseConfig` applies to the settings every recipe shares (a batch
holds at least two samples: an MI bound compares a sample with others)."""
