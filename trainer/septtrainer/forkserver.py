"""The trainer's forkserver: torch imported once, each job forked from it.

A trainer process spends seconds of CPU importing torch (and torch._dynamo, which the first
optimizer step imports) before its first step. A sept-gpu worker therefore keeps one process
that has imported them, `python -m septtrainer.forkserver --socket <path>`, and a job started as
`python -m septtrainer <stage> ...` with SEPT_FORKSERVER_SOCKET set hands itself to it:

- the job's process (the *client*) connects, sends its arguments, environment and working folder
  with its stdin, stdout and stderr attached, and the forkserver forks a child that runs the stage
  on those descriptors, as the client would have;
- the client forwards SIGTERM and SIGINT to that child, and ends as it ends: with its exit code, or
  killed by the same signal. So the worker sees one process with the job's command line, signals
  it and reads its exit status as before (trainer/PROTOCOL.md, Forkserver);
- a client that dies (SIGKILL) closes its connection, and the forkserver kills its child.

A job runs in a fresh process of its own (the client falls back to that) when there is no
forkserver at the path, or when the forkserver refuses it: a job whose environment is not the
forkserver's (what torch read when it was imported would not be what the job asked for), or one
run by another Python.

Once it listens, the forkserver writes one line on stdout, {"event": "ready", "socket": path}:
a supervisor waits for it before handing out the path, so that no job imports torch beside it.

Wire, one connection per job: the client sends one JSON line {"argv", "env", "cwd", "python"} with its
descriptors 0, 1, 2 (SCM_RIGHTS); the forkserver answers {"pid": n} or {"refused": reason}, and
once the child has ended {"exit": code} or {"signal": n}.
"""
import argparse
import json
import os
import select
import selectors
import signal
import socket
import sys

from . import protocol

SOCKET_ENV = "SEPT_FORKSERVER_SOCKET"

# What every stage imports: loaded once here, shared copy-on-write by every child. No module here
# may start CUDA or torch's thread pools: a child must find them as a fresh process would.
PRELOADED = ("torch", "torch._dynamo", "septtrainer.main", "septtrainer.checkpoint", "septtrainer.distributed",
             "septtrainer.encoders", "septtrainer.pretrain", "septtrainer.finetune", "septtrainer.evaluate",
             "septtrainer.export")

# Longest a client may take to send its request: a stuck one must not hold up the others.
REQUEST_TIMEOUT_S = 10
MAX_REQUEST_BYTES = 1 << 20


def _cuda_driver_started():
    """libcuda is loaded once CUDA's runtime has made its first call (cuInit), never by an import alone."""
    with open("/proc/self/maps") as maps:
        return any("libcuda.so" in line for line in maps)


def _log(message):
    protocol.log(f"forkserver: {message}")


# The client side: how `python -m septtrainer` runs a job through the forkserver.

def _read_message(reader):
    line = reader.readline()
    return json.loads(line) if line.endswith(b"\n") else None


def _wait_for_orphan(pid):
    """The forkserver died under a running child: the child lives on, reparented, until it ends."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        select.select([fd], [], [])
    finally:
        os.close(fd)


def run_through(path, argv):
    """Runs the job (`argv` after `python -m septtrainer`) in a child of the forkserver at `path`
    and returns its exit code. None when it cannot: no forkserver there, or it refused the job;
    the caller then runs the job itself."""
    child = None
    pending = []

    def forward(signum, frame):
        if child is None:
            pending.append(signum)
            return
        try:
            os.kill(child, signum)
        except ProcessLookupError:
            pass  # it has ended; its status is on its way

    # Before connecting: a stop that comes while the child starts is passed on once it has.
    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    closing = [conn]
    try:
        try:
            conn.connect(path)
            request = json.dumps({"argv": argv, "env": dict(os.environ), "cwd": os.getcwd(),
                                  "python": sys.executable}).encode() + b"\n"
            socket.send_fds(conn, [request], [0, 1, 2])
            reader = conn.makefile("rb")
            closing.append(reader)
            reply = _read_message(reader)
        except OSError as err:
            _log(f"none at {path} ({err.strerror or err}): running the job in this process")
            return None
        if reply is None or "pid" not in reply:
            _log(f"refused the job ({(reply or {}).get('refused', 'no answer')}): running it in this process")
            return None
        child = reply["pid"]
        _log(f"the job runs as its process {child}")
        for signum in pending:
            os.kill(child, signum)
        # The job's stdin and stdout are the child's now: this process keeps no copy of them.
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        os.close(devnull)
        status = _read_message(reader)
        if status is None:
            _log(f"died while job {child} ran: waiting for it; its exit status is lost")
            _wait_for_orphan(child)
            return protocol.EXIT_FAILED
        if "signal" in status:
            # Ended by the signal that ended the child, as if it had been this process.
            for signum in previous:
                signal.signal(signum, signal.SIG_DFL)
            if status["signal"] != signal.SIGKILL:
                signal.signal(status["signal"], signal.SIG_DFL)
            os.kill(os.getpid(), status["signal"])
            return protocol.EXIT_FAILED
        return status["exit"]
    finally:
        for stream in closing:
            stream.close()
        for signum, handler in previous.items():
            if signal.getsignal(signum) is forward:
                signal.signal(signum, handler)
        if child is None:
            # The job runs here after all: a stop that came meanwhile is its own again.
            for signum in pending:
                os.kill(os.getpid(), signum)


# The server side.

def _receive_request(conn):
    """The request's fields and its three descriptors; raises ValueError for anything else."""
    conn.settimeout(REQUEST_TIMEOUT_S)
    data, fds, _, _ = socket.recv_fds(conn, MAX_REQUEST_BYTES, 3)
    try:
        while not data.endswith(b"\n"):
            more = conn.recv(MAX_REQUEST_BYTES)
            if not more or len(data) + len(more) > MAX_REQUEST_BYTES:
                raise ValueError("an incomplete request")
            data += more
        if len(fds) != 3:
            raise ValueError(f"{len(fds)} descriptors instead of stdin, stdout and stderr")
        request = json.loads(data)
        if not (isinstance(request.get("argv"), list) and all(isinstance(a, str) for a in request["argv"])
                and isinstance(request.get("env"), dict) and isinstance(request.get("cwd"), str)):
            raise ValueError("a request without argv, env and cwd")
    except Exception:
        for fd in fds:
            os.close(fd)
        raise
    conn.settimeout(None)
    return request, fds


def _environment_difference(env, own):
    names = sorted(set(env) ^ set(own) | {k for k in set(env) & set(own) if env[k] != own[k]})
    return f"its environment differs from the forkserver's in {', '.join(names[:5])}" if names else None


def _send(conn, message):
    try:
        conn.sendall(json.dumps(message).encode() + b"\n")
    except OSError:
        pass  # the client is gone; its connection's end has told us already or will


class Job:
    """A job forked from the forkserver: runs in the child, on the client's descriptors."""

    def __init__(self, request, fds):
        self.argv = request["argv"]
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])

    def __call__(self):
        from .main import main

        sys.argv = ["septtrainer", *self.argv]
        return main(self.argv)


class Forkserver:
    def __init__(self, path):
        self.path = path
        self.environment = dict(os.environ)
        self.selector = selectors.DefaultSelector()
        self.jobs = {}  # pid: (connection, pidfd)
        self.stopping = False
        self.listener = None

    def start(self):
        try:
            os.close(os.pidfd_open(os.getpid()))
        except (AttributeError, OSError) as err:
            # It watches its children through pidfds; without them, jobs start on their own.
            raise SystemExit(f"septtrainer.forkserver needs Linux 5.3 or later (pidfd_open): {err}")
        for name in PRELOADED:
            __import__(name)
        if _cuda_driver_started():
            # A child of a process that has started CUDA's driver cannot use CUDA: no preloading then.
            raise SystemExit("septtrainer.forkserver: importing torch started CUDA's driver (libcuda is loaded), "
                             "which a forked child could not use; jobs start on their own")
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        os.chmod(self.path, 0o600)
        self.listener.listen(64)
        # The one line on stdout, for whoever waits to hand it jobs; then stdout is no one's.
        print(json.dumps({"event": "ready", "socket": self.path}), flush=True)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
        self.selector.register(self.listener, selectors.EVENT_READ, self._accept)
        if os.environ.get("SEPT_TRAINER_SUPERVISED") == "1":
            self.selector.register(0, selectors.EVENT_READ, self._supervisor)
        _log(f"ready at {self.path}: {len(PRELOADED)} modules preloaded")

    def serve(self):
        """Until stopped and every child has ended. Returns the Job to run when this process is a child."""
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signalled = []
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda s, f: signalled.append(s))
        self.selector.register(wake_r, selectors.EVENT_READ, lambda: os.read(wake_r, 512) and None)
        while not self.stopping or self.jobs:
            for key, _ in self.selector.select():
                job = key.data()
                if job is not None:
                    self._become_child((wake_r, wake_w))
                    return job
            if signalled:
                self._stop(f"signal {signalled[0]}")
        _log("stopped")
        return None

    def _stop(self, why):
        if self.stopping:
            return
        self.stopping = True
        _log(f"stopping ({why}): no new jobs; {len(self.jobs)} running")
        self.selector.unregister(self.listener)
        self.listener.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def _supervisor(self):
        if not os.read(0, 65536):
            self.selector.unregister(0)
            self._stop("its supervisor is gone")

    def _accept(self):
        conn, _ = self.listener.accept()
        try:
            request, fds = _receive_request(conn)
        except (OSError, ValueError) as err:
            _send(conn, {"refused": f"a bad request: {err}"})
            conn.close()
            return None
        refusal = (f"it runs another Python ({request['python']})" if request.get("python") != sys.executable
                   else _environment_difference(request["env"], self.environment))
        if refusal:
            for fd in fds:
                os.close(fd)
            _send(conn, {"refused": refusal})
            conn.close()
            return None
        try:
            pid = os.fork()
        except OSError as err:
            for fd in fds:
                os.close(fd)
            _send(conn, {"refused": f"cannot fork: {err}"})
            conn.close()
            return None
        if pid == 0:
            conn.close()
            return Job(request, fds)
        for fd in fds:
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        self.jobs[pid] = (conn, pidfd)
        self.selector.register(pidfd, selectors.EVENT_READ, lambda: self._reap(pid))
        self.selector.register(conn, selectors.EVENT_READ, lambda: self._client_gone(pid))
        _send(conn, {"pid": pid})
        _log(f"job {pid} started: {' '.join(request['argv'])}")
        return None

    def _client_gone(self, pid):
        """The client closed its connection (killed): its child goes too, as the job would have."""
        conn, _ = self.jobs[pid]
        self.selector.unregister(conn)
        _log(f"job {pid}: its client is gone; killing it")
        os.kill(pid, signal.SIGKILL)

    def _reap(self, pid):
        conn, pidfd = self.jobs.pop(pid)
        self.selector.unregister(pidfd)
        os.close(pidfd)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        _log(f"job {pid} ended: " + (f"exit {code}" if code >= 0 else f"signal {-code}"))
        if conn.fileno() in self.selector.get_map():
            self.selector.unregister(conn)
        _send(conn, {"exit": code} if code >= 0 else {"signal": -code})
        conn.close()

    def _become_child(self, wake_pipe):
        """In a fresh child: none of the forkserver's descriptors or handlers."""
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        self.selector.close()
        self.listener.close()
        for conn, pidfd in self.jobs.values():
            conn.close()
            os.close(pidfd)
        for fd in wake_pipe:
            os.close(fd)

def main(argv=None):
    parser = argparse.ArgumentParser(prog="septtrainer.forkserver", description=__doc__.splitlines()[0])
    parser.add_argument("--socket", required=True, help="the Unix socket to listen on (its folder: the worker's own)")
    args = parser.parse_args(argv)
    server = Forkserver(args.socket)
    server.start()
    job = server.serve()
    protocol.end(job() if job else protocol.EXIT_OK)


if __name__ == "__main__":
    main()
