"""Exact resume: an interrupted and resumed run ends with the weights of an uninterrupted one."""
import json
import os
import shutil
import signal

import pytest

from conftest import final_weights, max_weight_difference, run_trainer, start_trainer, write_config

STEPS = 14  # 150 images / batch 32 = 4 steps per epoch: the run crosses three epoch boundaries
METHODS = {"simclr": {"method": "simclr", "model": "cnn_small"},
           "mae": {"method": "mae", "model": "vit_tiny", "warmup_steps": 3}}
SMALL_IDS = ["s3://bucket/small-0.tar#version-1"]  # what the small shard holds, wherever it is staged


def config(directory, name, shards, method, **fields):
    return write_config(directory, name, **{
        "output_dir": os.path.join(directory, name), "train_shards": shards["small"], "train_shard_ids": SMALL_IDS,
        "batch_size": 32, "max_steps": STEPS, "checkpoint_every_steps": 5, "keep_checkpoints": 10,
        "log_every_steps": 1, **METHODS[method], **fields})


def checkpoint_at(events, step):
    return [e["path"] for e in events if e["event"] == "checkpoint" and e["step"] == step][0]


@pytest.fixture(scope="module", params=list(METHODS))
def reference(request, tmp_path_factory, shards):
    directory = str(tmp_path_factory.mktemp(f"resume-{request.param}"))
    code, events, err = run_trainer("pretrain", config(directory, "reference", shards, request.param))
    assert code == 0, err
    return request.param, directory, events


def test_resume_mid_epoch_matches_uninterrupted(reference, shards):
    method, directory, events = reference
    mid_epoch = checkpoint_at(events, 5)  # epoch 1, step 1
    code, resumed, err = run_trainer("pretrain", config(directory, "resumed", shards, method), resume=mid_epoch)
    assert code == 0, err
    assert [e["step"] for e in resumed if e["event"] == "progress"][0] == 6
    assert max_weight_difference(final_weights(resumed), final_weights(events)) <= 1e-6


@pytest.mark.parametrize("reference", ["simclr"], indirect=True)  # the comparison is the same for every method
def test_resume_on_another_machine_compares_shard_ids_not_paths(reference, shards, tmp_path):
    """A retry on another GPU machine stages the same shards in a cache at another path."""
    method, directory, events = reference
    staged = [shutil.copy(shards["small"][0], str(tmp_path / "small-0.tar"))]
    code, resumed, err = run_trainer("pretrain", config(directory, "elsewhere", shards, method, train_shards=staged),
                                     resume=checkpoint_at(events, 10))
    assert code == 0, err
    assert max_weight_difference(final_weights(resumed), final_weights(events)) <= 1e-6

    other = config(directory, "other-data", shards, method, train_shards=staged,
                   train_shard_ids=["s3://bucket/small-0.tar#version-2"])
    code, refused, err = run_trainer("pretrain", other, resume=checkpoint_at(events, 10))
    assert code == 2 and refused == []
    assert "config.train_shard_ids: differs from the config of the --resume checkpoint" in err


@pytest.mark.parametrize("reference", ["simclr"], indirect=True)  # the signal path is the same for every method
def test_sigterm_checkpoints_exits_143_and_resumes_exactly(reference, shards):
    method, directory, events = reference
    path = config(directory, "interrupted", shards, method)
    process = start_trainer("pretrain", path)
    seen = []
    for line in process.stdout:
        seen.append(json.loads(line))
        if seen[-1]["event"] == "progress" and seen[-1]["step"] == 2:
            process.send_signal(signal.SIGTERM)
            break
    seen += [json.loads(line) for line in process.stdout]
    assert process.wait(timeout=60) == 143, process.stderr.read()
    stop = seen[-1]
    assert stop["event"] == "checkpoint" and 2 <= stop["step"] < STEPS and os.path.isfile(stop["path"])

    code, resumed, err = run_trainer("pretrain", path, resume=stop["path"])
    assert code == 0, err
    assert [e["step"] for e in resumed if e["event"] == "progress"][0] == stop["step"] + 1
    assert max_weight_difference(final_weights(resumed), final_weights(events)) <= 1e-6


@pytest.mark.parametrize("reference", ["simclr"], indirect=True)
def test_supervisor_gone_stops_with_a_checkpoint(reference, shards):
    """A supervised trainer whose stdin closes (its worker died) stops as on SIGTERM."""
    method, directory, _ = reference
    process = start_trainer("pretrain", config(directory, "orphaned", shards, method), supervised=True)
    seen = []
    for line in process.stdout:
        seen.append(json.loads(line))
        if seen[-1]["event"] == "progress" and seen[-1]["step"] == 2:
            process.stdin.close()
            break
    seen += [json.loads(line) for line in process.stdout]
    assert process.wait(timeout=60) == 143, process.stderr.read()
    assert seen[-1]["event"] == "checkpoint" and seen[-1]["step"] < STEPS
