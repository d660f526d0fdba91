"""The trainer's configuration: one JSON object, validated strictly so a typo fails before any work.

Every field and its default is documented in trainer/PROTOCOL.md; keep the two in step.
"""
import json
import math
import os
from dataclasses import dataclass

from . import backbones

STAGES = ("pretrain", "finetune", "evaluate", "export")


class ConfigError(Exception):
    """Invalid configuration: the trainer exits 2 (not retryable) with this message on stderr."""

    def __init__(self, field, problem):
        super().__init__(f"{field}: {problem}")


@dataclass(frozen=True)
class Field:
    kind: str  # int, number, bool, str, str_or_null, int_or_null, str_list, number_list_or_null, choice
    default: object = None
    minimum: float = None
    maximum: float = None
    choices: tuple = ()
    required: bool = False


AUGMENT = {
    "crop_scale_min": Field("number", 0.35, minimum=0.05, maximum=1.0),
    "hflip": Field("bool", False),
}

SECTIONS = {
    # null: vit_tiny's value (VIT_TINY), or the shape a timm ViT's name gives.
    "vit": {
        "patch_size": Field("int_or_null", None, minimum=1),
        "dim": Field("int_or_null", None, minimum=8),
        "depth": Field("int_or_null", None, minimum=1),
        "heads": Field("int_or_null", None, minimum=1),
    },
    "simclr": {
        **AUGMENT,
        "temperature": Field("number", 0.2, minimum=1e-4),
        "projection_dim": Field("int", 64, minimum=1),
    },
    "mae": {
        **AUGMENT,
        "crop_scale_min": Field("number", 0.6, minimum=0.05, maximum=1.0),
        "mask_ratio": Field("number", 0.75, minimum=0.0, maximum=0.95),
        # null: the demo's light decoder for vit_tiny, the paper's (512 wide, 8 deep) for a timm ViT.
        "decoder_dim": Field("int_or_null", None, minimum=8),
        "decoder_depth": Field("int_or_null", None, minimum=1),
        "norm_pix_loss": Field("bool", True),
    },
    "finetune": {
        **AUGMENT,
        "crop_scale_min": Field("number", 0.8, minimum=0.05, maximum=1.0),
    },
    "evaluate": {
        "knn_k": Field("int", 20, minimum=0),
        "knn_temperature": Field("number", 0.07, minimum=1e-4),
        "linear_probe_steps": Field("int", 300, minimum=0),
        "linear_probe_lr": Field("number", 0.01, minimum=0.0),
    },
}

TOP_LEVEL = {
    "seed": Field("int", 0, minimum=0),
    "device": Field("choice", "auto", choices=("auto", "cpu", "cuda")),
    "threads": Field("int_or_null", None, minimum=1),
    # Decoding processes (data.batch_loader); null: decoding threads on CPU, a share of the cores on CUDA.
    "loader_workers": Field("int_or_null", None, minimum=1),
    "deterministic": Field("bool", True),
    "output_dir": Field("str", required=True),
    "checkpoint_dir": Field("str_or_null", None),
    "checkpoint_every_steps": Field("int", 100, minimum=1),
    "keep_checkpoints": Field("int", 3, minimum=1),
    "log_every_steps": Field("int", 10, minimum=1),
    "method": Field("choice", "simclr", choices=("simclr", "mae")),
    "model": Field("str", "cnn_small"),  # backbones.BUILT_IN or a timm model name
    "image_size": Field("int", 28, minimum=8),
    "channels": Field("choice", 1, choices=(1, 3)),
    "mean": Field("number_list_or_null", None),
    "std": Field("number_list_or_null", None),
    "num_classes": Field("int", 10, minimum=2),
    "batch_size": Field("int", 256, minimum=1),
    "epochs": Field("int", 10, minimum=1),
    "max_steps": Field("int_or_null", None, minimum=1),
    "lr": Field("number", 1e-3, minimum=0.0),
    "weight_decay": Field("number", 0.05, minimum=0.0),
    "warmup_steps": Field("int", 0, minimum=0),
    "train_shards": Field("str_list", []),
    "test_shards": Field("str_list", []),
    # What each shard holds (its location and version), parallel to the paths: a resume compares
    # these, since a retry on another machine stages the same shards at paths of its own.
    "train_shard_ids": Field("str_list", []),
    "test_shard_ids": Field("str_list", []),
    "init_checkpoint": Field("str_or_null", None),
}
VIT_TINY = {"patch_size": 4, "dim": 128, "depth": 4, "heads": 4}
DECODERS = {"built_in": {"decoder_dim": 64, "decoder_depth": 2}, "timm": {"decoder_dim": 512, "decoder_depth": 8}}
SHARD_IDS = {"train_shards": "train_shard_ids", "test_shards": "test_shard_ids"}
PATH_FIELDS = ("output_dir", "checkpoint_dir", "train_shards", "test_shards", "init_checkpoint")


def _type_problem(spec, value):
    is_int = isinstance(value, int) and not isinstance(value, bool)
    is_number = (is_int or isinstance(value, float)) and math.isfinite(value)
    kind = spec.kind
    if kind.endswith("_or_null"):
        if value is None:
            return None
        kind = kind[: -len("_or_null")]
    if kind == "int" and not is_int:
        return "must be a positive integer" if spec.minimum == 1 else "must be an integer"
    if kind == "number" and not is_number:
        return "must be a finite number"
    if kind == "bool" and not isinstance(value, bool):
        return "must be true or false"
    if kind == "str" and not (isinstance(value, str) and value):
        return "must be a non-empty string"
    if kind == "str_list" and not (isinstance(value, list) and all(isinstance(v, str) and v for v in value)):
        return "must be a list of non-empty strings"
    if kind == "number_list" and not (
        isinstance(value, list) and value and all(_type_problem(Field("number"), v) is None for v in value)
    ):
        return "must be a non-empty list of numbers"
    if kind == "choice" and not any(value == c and type(value) is type(c) for c in spec.choices):
        return "must be one of " + ", ".join(json.dumps(c) for c in spec.choices)
    if kind in ("int", "number") and spec.minimum is not None and value < spec.minimum:
        return "must be a positive integer" if kind == "int" and spec.minimum == 1 else f"must be >= {spec.minimum}"
    if kind in ("int", "number") and spec.maximum is not None and value > spec.maximum:
        return f"must be <= {spec.maximum}"
    return None


def _apply(schema, raw, prefix):
    if not isinstance(raw, dict):
        raise ConfigError(prefix, "must be a JSON object")
    for key in raw:
        if key not in schema:
            raise ConfigError(f"{prefix}.{key}", "unknown field")
    out = {}
    for key, spec in schema.items():
        field = f"{prefix}.{key}"
        if key not in raw:
            if spec.required:
                raise ConfigError(field, "is required")
            out[key] = list(spec.default) if isinstance(spec.default, list) else spec.default
            continue
        problem = _type_problem(spec, raw[key])
        if problem:
            raise ConfigError(field, problem)
        out[key] = raw[key]
    return out


def validate(raw, stage):
    """Returns the config with defaults filled in, or raises ConfigError naming the field."""
    sections = {name: raw.get(name, {}) for name in SECTIONS} if isinstance(raw, dict) else {}
    top = {k: v for k, v in raw.items() if k not in SECTIONS} if isinstance(raw, dict) else raw
    config = _apply(TOP_LEVEL, top, "config")
    for name, schema in SECTIONS.items():
        config[name] = _apply(schema, sections[name], f"config.{name}")

    channels = config["channels"]
    for key, fill in (("mean", 0.5), ("std", 0.5)):
        if config[key] is None:
            config[key] = [fill] * channels
        elif len(config[key]) != channels:
            raise ConfigError(f"config.{key}", f"must have {channels} values (one per channel)")
    if any(s <= 0 for s in config["std"]):
        raise ConfigError("config.std", "values must be > 0")
    for key, ids in SHARD_IDS.items():
        if config[ids] and len(config[ids]) != len(config[key]):
            raise ConfigError(f"config.{ids}", f"must have one id per shard of {key} ({len(config[key])}), or none")
    if config["checkpoint_dir"] is None:
        config["checkpoint_dir"] = f"{config['output_dir']}/checkpoints"

    kind = backbones.kind(config["model"])
    if kind is None:
        raise ConfigError("config.model", f"unknown backbone {config['model']!r}: neither built in ({', '.join(backbones.BUILT_IN)}) "
                                          f"nor a timm model name (the paper's: {', '.join(backbones.PAPER)})")
    if config["method"] == "mae" and stage == "pretrain" and kind != "vit":
        raise ConfigError("config.model", "method mae needs model vit_tiny or a timm ViT (vit_small_patch16_224, vit_base_patch16_224)")
    built_in = config["model"] in backbones.BUILT_IN
    # Nulls resolved here, not in the encoder, so checkpoints of built-in models record the same config as ever.
    for section, defaults in (("vit", VIT_TINY if built_in else {}), ("mae", DECODERS["built_in" if built_in else "timm"])):
        config[section].update({k: v for k, v in defaults.items() if config[section][k] is None})
    if kind == "vit":
        vit = config["vit"]
        if vit["patch_size"] and config["image_size"] % vit["patch_size"]:
            raise ConfigError("config.vit.patch_size", f"must divide image_size {config['image_size']}")
        if vit["dim"] and vit["heads"] and vit["dim"] % vit["heads"]:
            raise ConfigError("config.vit.heads", f"must divide vit.dim {vit['dim']}")
        # timm ViTs take MAE's 2D sin-cos positions: a sine and a cosine per axis.
        for field, width in (("vit.dim", vit["dim"]), ("mae.decoder_dim", config["mae"]["decoder_dim"])):
            if not built_in and width and width % 4:
                raise ConfigError(f"config.{field}", "must be a multiple of 4 for a timm ViT")

    if stage in ("pretrain", "finetune") and not config["train_shards"]:
        raise ConfigError("config.train_shards", f"must list at least one shard for {stage}")
    if stage == "evaluate":
        if not config["test_shards"]:
            raise ConfigError("config.test_shards", "must list at least one shard for evaluate")
        wants_bank = config["evaluate"]["knn_k"] > 0 or config["evaluate"]["linear_probe_steps"] > 0
        if wants_bank and not config["train_shards"]:
            raise ConfigError("config.train_shards", "kNN and linear probe need the train shards")
    if stage in ("evaluate", "export") and not config["init_checkpoint"]:
        raise ConfigError("config.init_checkpoint", f"is required for {stage}")
    return config


def load(path, stage):
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except OSError as err:
        raise ConfigError("--config", f"cannot read {path}: {err.strerror}") from err
    except json.JSONDecodeError as err:
        raise ConfigError("--config", f"{path} is not valid JSON: {err}") from err
    config = validate(raw, stage)
    # Relative paths name files next to the config, wherever the trainer is started from.
    base = os.path.dirname(os.path.abspath(path))
    for key in PATH_FIELDS:
        if isinstance(config[key], list):
            config[key] = [os.path.join(base, p) for p in config[key]]
        elif config[key] is not None:
            config[key] = os.path.join(base, config[key])
    for key in ("train_shards", "test_shards"):
        for i, shard in enumerate(config[key]):
            if not os.path.isfile(shard):
                raise ConfigError(f"config.{key}[{i}]", f"file not found: {shard}")
    if config["init_checkpoint"] and not os.path.isfile(config["init_checkpoint"]):
        raise ConfigError("config.init_checkpoint", f"file not found: {config['init_checkpoint']}")
    return config
