"""Checkpoints: written atomically, the last N kept, holding everything an exact resume needs."""
import os
import random
import re
from dataclasses import dataclass

import numpy as np
import torch

from . import atomic
from .config import SHARD_IDS, ConfigError

FORMAT = "septtrainer-checkpoint/1"
NAME = re.compile(r"^checkpoint-(\d{8})\.pt$")


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint file holds (trainer/PROTOCOL.md, Checkpoints), besides its `format`.

    Stored as a dict of plain values and tensors, so that it loads with weights_only=True.
    """

    stage: str
    config: dict
    architecture: dict  # encoders.architecture: what rebuilds the encoder and feeds it
    model: dict  # the stage model's state dict; the encoder's weights are those under `encoder.`
    optimizer: dict
    scheduler: dict
    scaler: dict  # the mixed-precision grad scaler
    rng: dict  # rng_states()
    step: int
    total_steps: int
    epoch: int
    step_in_epoch: int
    epoch_seed: int

    def encoder_weights(self):
        return {k[len("encoder."):]: v for k, v in self.model.items() if k.startswith("encoder.")}


def rng_states():
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    # Plain lists and ints so the checkpoint loads with weights_only=True.
    states = {
        "python": random.getstate(),
        "numpy": [kind, keys.tolist(), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states):
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def listed(directory):
    """Checkpoint paths in the directory, oldest step first."""
    names = [n for n in os.listdir(directory) if NAME.match(n)] if os.path.isdir(directory) else []
    return [os.path.join(directory, n) for n in sorted(names)]


def write(directory, state, keep):
    """Writes a Checkpoint as `checkpoint-<step>.pt` and keeps the newest `keep`; returns its path."""
    path = os.path.join(directory, f"checkpoint-{state.step:08d}.pt")

    def save(tmp):
        with open(tmp, "wb") as f:
            torch.save({"format": FORMAT, **vars(state)}, f)

    atomic.write(path, save)
    for old in listed(directory)[:-keep]:
        os.remove(old)
    # Temporaries of killed writers would otherwise pile up.
    atomic.remove_stale(directory, "checkpoint-*.pt")
    return path


def read(path):
    """The Checkpoint in a file; ValueError for a file of another format."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.pop("format", None) != FORMAT:
        raise ValueError(f"{path} is not a septtrainer checkpoint")
    return Checkpoint(**state)


def read_for(field, path, architecture, stage=None):
    """Reads a checkpoint named by the config or --resume; a wrong one is a config error, not a retry."""
    if not os.path.isfile(path):
        raise ConfigError(field, f"file not found: {path}")
    try:
        state = read(path)
    except Exception as err:  # torch.load raises many types for a file that is not a checkpoint
        raise ConfigError(field, f"cannot read {path}: {err}") from err
    if stage and state.stage != stage:
        raise ConfigError(field, f"{path} is a {state.stage} checkpoint, not {stage}")
    for key, value in architecture.items():
        if state.architecture.get(key) != value:
            raise ConfigError(f"config.{key}", f"is {value!r} but {path} was trained with {state.architecture.get(key)!r}")
    return state


def read_init(config, architecture):
    """config.init_checkpoint, whose architecture must be the config's."""
    return read_for("config.init_checkpoint", config["init_checkpoint"], architecture)


# Fields that change where and how a run reports, not the trajectory it computes.
OPERATIONAL_FIELDS = {"device", "threads", "loader_workers", "output_dir", "checkpoint_dir", "checkpoint_every_steps",
                      "keep_checkpoints", "log_every_steps", "init_checkpoint"}


def check_resumable(config, state):
    for key, value in config.items():
        if key in OPERATIONAL_FIELDS or key in SHARD_IDS.values():
            continue
        # Shards are the same data when their ids are; paths decide only where either config has
        # no ids (a checkpoint written before ids were given, a trainer run by hand).
        ids = SHARD_IDS.get(key)
        if ids and config[ids] and state.config.get(ids):
            key, value = ids, config[ids]
        if state.config.get(key) != value:
            raise ConfigError(f"config.{key}", "differs from the config of the --resume checkpoint; exact resume needs the same")
