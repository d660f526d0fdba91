"""Every stage end to end on tiny shards: protocol events, checkpoint retention, learning, export."""
import json
import os
import signal

import numpy as np
import onnxruntime
import pytest
import torch

from conftest import run_trainer, start_trainer, write_config
from septtrainer import checkpoint
from septtrainer.encoders import checkpoint_encoder

FIELDS = {
    "progress": {"stage", "epoch", "step", "total_steps", "loss", "lr", "images_per_s"},
    "checkpoint": {"path", "step", "write_seconds"},
    "metrics": {"stage", "metrics"},
    "artifact": {"kind", "path"},
}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, shards):
    """pretrain -> finetune -> evaluate (both checkpoints) -> export, each run once for the module."""
    root = tmp_path_factory.mktemp("pipeline")
    common = {"train_shards": shards["train"], "test_shards": shards["test"], "batch_size": 32}
    runs = {}
    pre = write_config(root, "pretrain", output_dir=str(root / "pre"), max_steps=6, checkpoint_every_steps=2,
                       keep_checkpoints=2, log_every_steps=2, **common)
    runs["pretrain"] = run_trainer("pretrain", pre)
    pretrained = runs["pretrain"][1][-1]["path"]
    fine = write_config(root, "finetune", output_dir=str(root / "fine"), max_steps=30, init_checkpoint=pretrained,
                        checkpoint_every_steps=100, **common)
    runs["finetune"] = run_trainer("finetune", fine)
    finetuned = runs["finetune"][1][-1]["path"]
    for name, init in (("evaluate", finetuned), ("evaluate_pretrained", pretrained), ("export", pretrained)):
        path = write_config(root, name, output_dir=str(root / name), init_checkpoint=init, **common)
        runs[name] = run_trainer(name.split("_")[0], path)
    return runs


@pytest.mark.parametrize("run", ["pretrain", "finetune", "evaluate", "evaluate_pretrained", "export"])
def test_stage_speaks_the_protocol(pipeline, run):
    code, events, err = pipeline[run]
    assert code == 0, err
    assert events, "no events on stdout"
    for event in events:
        assert set(event) == {"event"} | FIELDS[event["event"]], event
    if run in ("pretrain", "finetune"):
        progress = [e for e in events if e["event"] == "progress"]
        assert progress[-1]["step"] == progress[-1]["total_steps"]
        assert all(isinstance(e["loss"], float) and e["lr"] >= 0 and e["images_per_s"] > 0 for e in progress)
        assert events[-1]["event"] == "artifact" and events[-2]["event"] == "checkpoint"
        assert events[-1]["path"] == events[-2]["path"]


def test_only_the_last_checkpoints_are_kept(pipeline):
    events = pipeline["pretrain"][1]
    assert [e["step"] for e in events if e["event"] == "checkpoint"] == [2, 4, 6]
    directory = os.path.dirname(events[-1]["path"])
    assert sorted(os.listdir(directory)) == ["checkpoint-00000004.pt", "checkpoint-00000006.pt"]


def test_finetune_and_evaluate_learn_the_task(pipeline):
    metrics = [e for e in pipeline["evaluate"][1] if e["event"] == "metrics"][0]["metrics"]
    assert metrics["top1"] > 0.6  # chance is 0.1
    assert metrics["knn_top1"] > 0.3 and metrics["linear_probe_top1"] > 0.3
    pretrained = [e for e in pipeline["evaluate_pretrained"][1] if e["event"] == "metrics"][0]["metrics"]
    assert "top1" not in pretrained and pretrained["knn_top1"] > 0.2 and pretrained["linear_probe_top1"] > 0.2


def test_export_matches_torch_and_writes_the_spec(pipeline):
    events = pipeline["export"][1]
    artifacts = {e["kind"]: e["path"] for e in events if e["event"] == "artifact"}
    with open(artifacts["preprocess_spec"]) as f:
        spec = json.load(f)
    assert spec == {"input_name": "images", "output_name": "embedding", "layout": "NCHW", "channels": 1, "size": 28,
                    "crop": 28, "mean": [0.5], "std": [0.5], "l2_normalize": True, "dim": 128}

    encoder = checkpoint_encoder(checkpoint.read(pipeline["pretrain"][1][-1]["path"]))
    encoder.eval()
    session = onnxruntime.InferenceSession(artifacts["onnx_encoder"], providers=["CPUExecutionProvider"])
    for batch in (1, 5):  # dynamic batch
        images = torch.rand(batch, 1, 28, 28) * 2 - 1
        with torch.no_grad():
            expected = encoder(images).numpy()
        actual = session.run([spec["output_name"]], {spec["input_name"]: images.numpy()})[0]
        assert actual.shape == (batch, spec["dim"])
        assert np.abs(actual - expected).max() <= 1e-4


def test_sigterm_stops_evaluate_at_once_with_143(pipeline, shards, tmp_path):
    path = write_config(tmp_path, "evaluate", output_dir=str(tmp_path), init_checkpoint=pipeline["pretrain"][1][-1]["path"],
                        train_shards=shards["train"], test_shards=shards["test"], batch_size=8, log_every_steps=1)
    process = start_trainer("evaluate", path)
    assert json.loads(process.stdout.readline())["event"] == "progress"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 143
    assert not os.path.exists(tmp_path / "metrics.json")
