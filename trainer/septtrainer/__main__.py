import os
import sys

from . import protocol
from .forkserver import SOCKET_ENV, run_through

# Through the worker's forkserver where it has one (forkserver.py), else in this process.
code = run_through(os.environ[SOCKET_ENV], sys.argv[1:]) if os.environ.get(SOCKET_ENV) else None
if code is None:
    from .main import main

    code = main()
protocol.end(code)
