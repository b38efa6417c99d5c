"""The environment process: runs one EnvironmentRuntime, driven by the supervisor over two pipes.

Commands and replies are JSON lines on file descriptors passed in argv, so the handler's own
stdout/stderr never mix with the protocol. The process exits when its environment ends.
"""

from __future__ import annotations

import os
import sys
from typing import IO, Any

import orjson

from .core import EnvironmentRuntime, EnvState, RuntimeConfig
from .invocation import EnvironmentExit


def _send(out: IO[bytes], message: dict[str, Any]) -> None:
    out.write(orjson.dumps(message, default=repr) + b"\n")
    out.flush()


def serve(commands: IO[bytes], replies: IO[bytes]) -> int:
    """Answer commands until the environment ends; returns the process exit code."""
    runtime: EnvironmentRuntime | None = None
    for raw in commands:
        message = orjson.loads(raw)
        op = message["op"]
        if op == "start":
            runtime = EnvironmentRuntime(
                RuntimeConfig(**message["config"]), EnvState(**message["state"])
            )
            init = runtime.init()
            _send(replies, {"init": init.__dict__, "state": runtime.snapshot().to_dict()})
            continue
        assert runtime is not None, "start must come first"
        if op == "invoke":
            try:
                result = runtime.invoke(message["index"], message["request_id"], message["event"])
            except EnvironmentExit as ended:
                lost = runtime.shutdown(ended.reason, ended.exit_code)
                if ended.result is not None:
                    ended.result.pending, ended.result.env_alive = lost, False
                reply = ended.result.__dict__ if ended.result else None
                _send(
                    replies,
                    {"result": reply, "alive": False, "reason": ended.reason,
                     "state": runtime.snapshot().to_dict()},
                )  # fmt: skip
                runtime.close()
                return ended.exit_code or 0
            _send(replies, {"result": result.__dict__, "alive": True,
                            "state": runtime.snapshot().to_dict()})  # fmt: skip
        elif op == "shutdown":
            runtime.shutdown(message["reason"])
            _send(replies, {"state": runtime.snapshot().to_dict()})
            runtime.close()
            return 0
    return 0


def main() -> None:
    commands = os.fdopen(int(sys.argv[1]), "rb")
    replies = os.fdopen(int(sys.argv[2]), "wb")
    code = serve(commands, replies)
    sys.stdout.flush()
    # Leftover threads or tasks of the handler must not keep a dead environment alive.
    os._exit(code)


if __name__ == "__main__":
    main()
