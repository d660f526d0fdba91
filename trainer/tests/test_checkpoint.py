import dataclasses
import os

import pytest
import torch

from septtrainer import checkpoint
from septtrainer.config import ConfigError


def state(step):
    return checkpoint.Checkpoint(stage="pretrain", config={}, architecture={}, model={"w": torch.full((4,), float(step))},
                                 optimizer={}, scheduler={}, scaler={}, rng={}, step=step, total_steps=5, epoch=0,
                                 step_in_epoch=step, epoch_seed=0)


def test_a_failed_write_leaves_no_visible_file(tmp_path, monkeypatch):
    checkpoint.write(str(tmp_path), state(1), keep=3)

    def crash(obj, f):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError):
        checkpoint.write(str(tmp_path), state(2), keep=3)
    assert os.listdir(tmp_path) == ["checkpoint-00000001.pt"]


def test_only_the_last_n_are_kept_and_stale_temporaries_go(tmp_path):
    (tmp_path / ".checkpoint-00000001.pt.tmp-999999").write_bytes(b"left by a killed writer")
    for step in range(1, 6):
        checkpoint.write(str(tmp_path), state(step), keep=2)
    assert sorted(os.listdir(tmp_path)) == ["checkpoint-00000004.pt", "checkpoint-00000005.pt"]
    assert checkpoint.read(str(tmp_path / "checkpoint-00000005.pt")).model["w"][0] == 5


def test_resume_refuses_a_config_that_changes_the_trajectory():
    saved = dataclasses.replace(state(1), config={"batch_size": 32, "lr": 0.1, "output_dir": "/a"})
    checkpoint.check_resumable({"batch_size": 32, "lr": 0.1, "output_dir": "/b"}, saved)
    with pytest.raises(ConfigError, match="config.lr: differs from the config of the --resume checkpoint"):
        checkpoint.check_resumable({"batch_size": 32, "lr": 0.2, "output_dir": "/a"}, saved)


def test_resume_compares_shards_by_id_where_both_configs_give_ids():
    ids = {"train_shard_ids": ["s3://b/subset-0.tar#etag-1"], "test_shard_ids": []}
    saved = dataclasses.replace(state(1), config={"train_shards": ["/cache-a/0.tar"], "test_shards": [], **ids})
    checkpoint.check_resumable({"train_shards": ["/cache-b/0.tar"], "test_shards": [], **ids}, saved)
    with pytest.raises(ConfigError, match="config.train_shard_ids: differs from the config of the --resume checkpoint"):
        checkpoint.check_resumable({"train_shards": ["/cache-a/0.tar"], "test_shards": [], **ids, "train_shard_ids": ["s3://b/subset-0.tar#etag-2"]}, saved)
    # Without ids on either side (a checkpoint written before them), the paths are the shards.
    old = dataclasses.replace(state(1), config={"train_shards": ["/cache-a/0.tar"], "test_shards": []})
    checkpoint.check_resumable({"train_shards": ["/cache-a/0.tar"], "test_shards": [], **ids}, old)
    with pytest.raises(ConfigError, match="config.train_shards: differs"):
        checkpoint.check_resumable({"train_shards": ["/cache-b/0.tar"], "test_shards": [], **ids}, old)
