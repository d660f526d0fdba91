"""The forkserver: a job forked from it is the job run alone, seen from outside (exit status, signals, events)."""
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import TRAINER, final_weights, max_weight_difference, run_trainer, write_config

STEPS = 12


def pretrain_config(directory, name, shards, **fields):
    return write_config(directory, name, **{
        "output_dir": os.path.join(directory, name), "train_shards": shards["small"], "batch_size": 32,
        "max_steps": STEPS, "checkpoint_every_steps": 4, "log_every_steps": 1, **fields})


class Server:
    def __init__(self, directory, supervised=False):
        self.socket = os.path.join(directory, "forkserver.sock")
        self.log = os.path.join(directory, "forkserver.log")
        self.env = {**os.environ, "SEPT_FORKSERVER_SOCKET": self.socket,
                    **({"SEPT_TRAINER_SUPERVISED": "1"} if supervised else {})}
        with open(self.log, "w") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "septtrainer.forkserver", "--socket", self.socket],
                                            cwd=TRAINER, env=self.env, stdin=subprocess.PIPE, stderr=log)
        self.wait_for("ready at")

    def lines(self):
        with open(self.log) as f:
            return f.read().splitlines()

    def wait_for(self, pattern, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for line in self.lines() if (m := re.search(pattern, line))]
            if found:
                return found[-1]
            assert self.process.poll() is None, "\n".join(self.lines())
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} in the forkserver's log:\n" + "\n".join(self.lines()))

    def start_job(self, stage, config_path, env=None):
        return subprocess.Popen([sys.executable, "-m", "septtrainer", stage, "--config", config_path], cwd=TRAINER,
                                env=env or self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def run_job(self, stage, config_path, env=None):
        job = self.start_job(stage, config_path, env)
        out, err = job.communicate(timeout=120)
        return job.returncode, [json.loads(line) for line in out.splitlines()], err

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = Server(str(tmp_path_factory.mktemp("forkserver")))
    yield server
    server.stop()


def first_progress(job):
    """Reads the job's events until its first progress event."""
    for line in job.stdout:
        if json.loads(line)["event"] == "progress":
            return


def gone(pid, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_a_forked_job_trains_the_weights_of_a_job_run_alone(server, shards, tmp_path):
    alone = run_trainer("pretrain", pretrain_config(str(tmp_path), "alone", shards))
    forked = server.run_job("pretrain", pretrain_config(str(tmp_path), "forked", shards))
    assert alone[0] == 0 and forked[0] == 0, forked[2]
    pid = re.search(r"forkserver: the job runs as its process (\d+)", forked[2]).group(1)
    server.wait_for(rf"job {pid} started: pretrain --config .*forked\.json")
    server.wait_for(r"job \d+ ended: exit 0")
    assert [e["event"] for e in forked[1]] == [e["event"] for e in alone[1]]
    assert max_weight_difference(final_weights(forked[1]), final_weights(alone[1])) == 0


def test_a_forked_job_fails_as_one_run_alone(server, shards, tmp_path):
    code, events, err = server.run_job("pretrain", pretrain_config(str(tmp_path), "bad", shards, max_stepz=3))
    assert (code, events) == (2, [])
    assert "invalid configuration: config.max_stepz: unknown field" in err


def test_sigterm_to_the_client_stops_the_job_with_a_checkpoint(server, shards, tmp_path):
    job = server.start_job("pretrain", pretrain_config(str(tmp_path), "stopped", shards, max_steps=10_000))
    first_progress(job)
    job.send_signal(signal.SIGTERM)
    out, err = job.communicate(timeout=120)
    assert job.returncode == 143, err
    assert json.loads(out.splitlines()[-1])["event"] == "checkpoint"
    assert "SIGTERM: stopping after the current step" in err


def test_a_killed_client_takes_its_job_with_it(server, shards, tmp_path):
    job = server.start_job("pretrain", pretrain_config(str(tmp_path), "killed", shards, max_steps=10_000))
    first_progress(job)
    child = int(server.wait_for(r"job (\d+) started: pretrain --config .*killed\.json").group(1))
    job.kill()
    job.wait(timeout=30)
    assert gone(child), "the forked job outlived its client"
    server.wait_for(rf"job {child} ended: signal 9")


def test_a_job_killed_by_a_signal_ends_its_client_by_the_same_signal(server, shards, tmp_path):
    job = server.start_job("pretrain", pretrain_config(str(tmp_path), "signalled", shards, max_steps=10_000))
    first_progress(job)
    child = int(server.wait_for(r"job (\d+) started: pretrain --config .*signalled\.json").group(1))
    os.kill(child, signal.SIGKILL)
    job.communicate(timeout=30)
    assert job.returncode == -signal.SIGKILL


def test_a_job_whose_environment_differs_runs_in_its_own_process(server, shards, tmp_path):
    env = {**server.env, "OMP_NUM_THREADS": "3"}
    code, events, err = server.run_job("pretrain", pretrain_config(str(tmp_path), "bad-env", shards, max_stepz=3), env)
    assert code == 2
    assert "forkserver: refused the job (its environment differs from the forkserver's in OMP_NUM_THREADS)" in err


def test_a_job_run_by_another_python_runs_in_its_own_process(server, shards, tmp_path):
    python = tmp_path / "python"
    python.symlink_to(sys.executable)
    job = subprocess.run([str(python), "-m", "septtrainer", "pretrain", "--config",
                          pretrain_config(str(tmp_path), "other-python", shards, max_stepz=3)],
                         cwd=TRAINER, env=server.env, capture_output=True, text=True, timeout=60)
    assert job.returncode == 2
    assert f"forkserver: refused the job (it runs another Python ({python}))" in job.stderr


def test_without_a_forkserver_a_job_runs_in_its_own_process(server, shards, tmp_path):
    env = {**server.env, "SEPT_FORKSERVER_SOCKET": str(tmp_path / "none.sock")}
    code, events, err = server.run_job("pretrain", pretrain_config(str(tmp_path), "no-server", shards, max_steps=2), env)
    assert code == 0, err
    assert "forkserver: none at" in err and events[-1]["event"] == "artifact"


def test_a_forkserver_whose_supervisor_is_gone_finishes_its_jobs_and_exits(shards, tmp_path):
    server = Server(str(tmp_path), supervised=True)
    try:
        job = server.start_job("pretrain", pretrain_config(str(tmp_path), "last", shards, max_steps=8))
        first_progress(job)
        server.process.stdin.close()
        server.wait_for("stopping \\(its supervisor is gone\\): no new jobs; 1 running")
        assert not os.path.exists(server.socket)
        # Not communicate(): the job is supervised, and the end of its stdin would stop it.
        out, err = job.stdout.read(), job.stderr.read()
        assert job.wait(timeout=120) == 0, err
        assert json.loads(out.splitlines()[-1])["event"] == "artifact"
        assert server.process.wait(timeout=30) == 0
    finally:
        server.stop()
