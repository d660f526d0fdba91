"""Checkpoints: written atomically, the last N kept, holding everything an exact resume needs."""
import glob
import os
import random
import re

import numpy as np
import torch

from .config import ConfigError

FORMAT = "septtrainer-checkpoint/1"
NAME = re.compile(r"^checkpoint-(\d{8})\.pt$")


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


def _fsync_dir(directory):
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_atomic(obj, path):
    """Writes to a hidden temporary name, fsyncs, then renames: readers see the whole file or none."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    _fsync_dir(directory)


def listed(directory):
    """Checkpoint paths in the directory, oldest step first."""
    names = [n for n in os.listdir(directory) if NAME.match(n)] if os.path.isdir(directory) else []
    return [os.path.join(directory, n) for n in sorted(names)]


def write(directory, state, keep):
    path = os.path.join(directory, f"checkpoint-{state['step']:08d}.pt")
    save_atomic({"format": FORMAT, **state}, path)
    for old in listed(directory)[:-keep]:
        os.remove(old)
    # Temporaries of killed writers (other pids) would otherwise pile up.
    for stale in glob.glob(os.path.join(directory, ".checkpoint-*.pt.tmp-*")):
        if not stale.endswith(f".tmp-{os.getpid()}"):
            os.remove(stale)
    return path


def read(path):
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path} is not a septtrainer checkpoint")
    return state


def read_for(field, path, architecture, stage=None):
    """Reads a checkpoint named by the config or --resume; a wrong one is a config error, not a retry."""
    if not os.path.isfile(path):
        raise ConfigError(field, f"file not found: {path}")
    try:
        state = read(path)
    except Exception as err:  # torch.load raises many types for a file that is not a checkpoint
        raise ConfigError(field, f"cannot read {path}: {err}") from err
    if stage and state["stage"] != stage:
        raise ConfigError(field, f"{path} is a {state['stage']} checkpoint, not {stage}")
    for key, value in architecture.items():
        if state["architecture"].get(key) != value:
            raise ConfigError(f"config.{key}", f"is {value!r} but {path} was trained with {state['architecture'].get(key)!r}")
    return state


# Fields that change where and how a run reports, not the trajectory it computes.
OPERATIONAL_FIELDS = {"device", "threads", "output_dir", "checkpoint_dir", "checkpoint_every_steps",
                      "keep_checkpoints", "log_every_steps", "init_checkpoint"}


def check_resumable(config, state):
    for key, value in config.items():
        if key not in OPERATIONAL_FIELDS and state["config"].get(key) != value:
            raise ConfigError(f"config.{key}", "differs from the config of the --resume checkpoint; exact resume needs the same")


def encoder_weights(state):
    return {k[len("encoder."):]: v for k, v in state["model"].items() if k.startswith("encoder.")}
