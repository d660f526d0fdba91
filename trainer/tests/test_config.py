import re

import pytest

from conftest import run_trainer, write_config
from septtrainer.config import ConfigError, validate

BASE = {"output_dir": "/tmp/out", "train_shards": ["a.tar"]}


@pytest.mark.parametrize("fields, message", [
    ({"batch_size": 0}, "config.batch_size: must be a positive integer"),
    ({"batch_size": "64"}, "config.batch_size: must be a positive integer"),
    ({"lr": -1}, "config.lr: must be >= 0.0"),
    ({"device": "tpu"}, 'config.device: must be one of "auto", "cpu", "cuda"'),
    ({"channels": True}, "config.channels: must be one of 1, 3"),
    ({"channels": 3.0}, "config.channels: must be one of 1, 3"),
    ({"bogus": 1}, "config.bogus: unknown field"),
    ({"simclr": {"tau": 0.1}}, "config.simclr.tau: unknown field"),
    ({"method": "mae"}, "config.model: method mae needs model vit_tiny"),
    ({"model": "vit_tiny", "vit": {"patch_size": 5}}, "config.vit.patch_size: must divide image_size 28"),
    ({"channels": 3, "mean": [0.5]}, "config.mean: must have 3 values"),
    ({"train_shards": []}, "config.train_shards: must list at least one shard"),
    ({"train_shard_ids": ["a", "b"]}, "config.train_shard_ids: must have one id per shard of train_shards (1), or none"),
])
def test_invalid_fields_are_named(fields, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        validate({**BASE, **fields}, "pretrain")


def test_output_dir_is_required():
    with pytest.raises(ConfigError, match="config.output_dir: is required"):
        validate({"train_shards": ["a.tar"]}, "pretrain")


def test_defaults_are_filled_in():
    config = validate(dict(BASE), "pretrain")
    assert config["checkpoint_dir"] == "/tmp/out/checkpoints"
    assert config["mean"] == [0.5] and config["keep_checkpoints"] == 3 and config["simclr"]["temperature"] == 0.2


def test_evaluate_needs_init_checkpoint():
    with pytest.raises(ConfigError, match="config.init_checkpoint: is required for evaluate"):
        validate({**BASE, "test_shards": ["t.tar"]}, "evaluate")


@pytest.mark.parametrize("fields, message", [
    ({"batch_size": -3}, "config.batch_size: must be a positive integer"),
    ({"epochz": 3}, "config.epochz: unknown field"),
])
def test_invalid_config_exits_2_naming_the_field(tmp_path, shards, fields, message):
    path = write_config(tmp_path, "bad", output_dir=str(tmp_path), train_shards=shards["small"], **fields)
    code, events, err = run_trainer("pretrain", path)
    assert code == 2 and events == []
    assert message in err


def test_missing_shard_exits_2(tmp_path):
    path = write_config(tmp_path, "missing", output_dir=str(tmp_path), train_shards=[str(tmp_path / "nope.tar")])
    code, _, err = run_trainer("pretrain", path)
    assert code == 2 and "config.train_shards[0]: file not found" in err
