import json
import os
import subprocess
import sys

import pytest

from septtrainer import checkpoint
from synthetic import write_shard

TRAINER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    return {
        # One plain and one gzipped shard: both reader paths are exercised by every training run.
        "train": [write_shard(str(root / "train-0.tar"), "synthetic", 300, seed=1),
                  write_shard(str(root / "train-1.tar.gz"), "synthetic", 300, seed=2)],
        "small": [write_shard(str(root / "small-0.tar"), "synthetic", 150, seed=3)],
        "test": [write_shard(str(root / "test-0.tar"), "synthetic", 200, seed=4)],
    }


def write_config(directory, name, **fields):
    path = os.path.join(directory, f"{name}.json")
    with open(path, "w") as f:
        # One thread: the suite's runs are tiny, and OpenMP threads stall badly on a busy 2-core machine.
        json.dump({"threads": 1, **fields}, f)
    return path


def launcher(processes):
    """How septflow starts a data-parallel job (lib/trainer/data-parallel.ts): torchrun, through
    septtrainer.launch, kills ranks that have not stopped 20 s after a stop."""
    if processes == 1:
        return []
    return [sys.executable, "-m", "septtrainer.launch", "--standalone", f"--nproc-per-node={processes}",
            "--shutdown-timeout=20", "--no-python"]


def start_trainer(stage, config_path, resume=None, supervised=False, processes=1):
    args = [*launcher(processes), sys.executable, "-m", "septtrainer", stage, "--config", config_path]
    if resume:
        args += ["--resume", resume]
    env = {**os.environ, "SEPT_TRAINER_SUPERVISED": "1"} if supervised else None
    stdin = subprocess.PIPE if supervised else None
    return subprocess.Popen(args, cwd=TRAINER, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def run_trainer(stage, config_path, resume=None, timeout=120, processes=1):
    """Runs a stage to completion; returns (exit code, parsed stdout events, stderr)."""
    process = start_trainer(stage, config_path, resume, processes=processes)
    out, err = process.communicate(timeout=timeout)
    return process.returncode, [json.loads(line) for line in out.splitlines()], err


def final_weights(events):
    path = [e for e in events if e["event"] == "checkpoint"][-1]["path"]
    return checkpoint.read(path).model


def max_weight_difference(a, b):
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a)
