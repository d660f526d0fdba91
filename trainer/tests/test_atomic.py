import json
import os

import pytest

from septtrainer import atomic


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = str(tmp_path / "metrics.json")
    atomic.write_json(path, {"top1": 0.5})

    def crash(tmp):
        with open(tmp, "w") as f:
            f.write("{partial")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic.write(path, crash)
    assert os.listdir(tmp_path) == ["metrics.json"]
    with open(path) as f:
        assert json.load(f) == {"top1": 0.5}


def test_temporary_names_are_unique_per_writer_not_only_per_process():
    names = {atomic._temporary_name("/data/checkpoint-00000001.pt") for _ in range(100)}
    assert len(names) == 100
    assert all(os.path.basename(n).startswith(f".checkpoint-00000001.pt.tmp-{os.getpid()}-") for n in names)


def test_only_other_writers_temporaries_are_stale(tmp_path):
    mine = tmp_path / f".checkpoint-00000002.pt.tmp-{os.getpid()}-0123456789abcdef"
    for name in (".checkpoint-00000001.pt.tmp-999999-0123456789abcdef", ".checkpoint-00000001.pt.tmp-999999", mine.name, ".encoder.onnx.tmp-999999", "checkpoint-00000001.pt"):
        (tmp_path / name).write_bytes(b"")
    atomic.remove_stale(str(tmp_path), "checkpoint-*.pt")
    assert sorted(os.listdir(tmp_path)) == sorted([mine.name, ".encoder.onnx.tmp-999999", "checkpoint-00000001.pt"])
