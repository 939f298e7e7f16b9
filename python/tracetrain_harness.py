"""Run a tracetrain agent under Agent Lightning v1.0's local controller.

That controller starts one Python process per rollout, imports the class named by the rollout's
``config.local.agent_class``, builds it with no arguments and awaits its ``run()``; the process's
environment holds the rollout contract (``AGL_OPENAI_BASE_URL``, ``AGL_EVENT_URL``, ``AGL_KEY``)
and the ``env_map`` fields. The rollout succeeds when the process exits 0.

``TracetrainHarness`` is such a class: it runs ``npx --no tracetrain harness ARGS`` with that
environment and ends the process with the harness's exit code (1: the agent failed or gave no
reward; 2: bad input), so a failed rollout is marked failed.

Configure it through the environment — ``env_map`` passes a value that does not start with
``input.`` as it is, so the trainer config can set these:

``TRACETRAIN_HARNESS_ARGS``
    the harness's arguments, shell-quoted or a JSON array of strings (required);
``TRACETRAIN_HARNESS_COMMAND``
    the command that starts ``tracetrain`` (default ``npx --no tracetrain``);
``TRACETRAIN_HARNESS_CWD``
    the directory to run it in (default: the controller's).

or subclass it and set ``args``, ``command`` and ``cwd``; a variable that is set wins over the
class attribute, and an empty variable counts as unset. No dependency beyond the standard library.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import sys
from typing import ClassVar, List, Optional, Sequence

ARGS_ENV = "TRACETRAIN_HARNESS_ARGS"
COMMAND_ENV = "TRACETRAIN_HARNESS_COMMAND"
CWD_ENV = "TRACETRAIN_HARNESS_CWD"

# The shell's convention for a command that cannot be found: the controller logs only the code.
NOT_FOUND_EXIT = 127
# The harness's own code for bad input, used for a launcher misconfiguration too.
USAGE_EXIT = 2


class HarnessConfigError(ValueError):
    """The launcher's configuration (arguments, command) is missing or malformed."""


class TracetrainHarness:
    """An Agent Lightning local-controller agent class that runs ``tracetrain harness``."""

    # ``--no``: never install a missing package. npx installs without asking when stdin is not a
    # terminal — as under the controller — which would fetch whatever the registry holds.
    command: ClassVar[Sequence[str]] = ("npx", "--no", "tracetrain")
    args: ClassVar[Optional[Sequence[str]]] = None
    cwd: ClassVar[Optional[str]] = None

    def argv(self) -> List[str]:
        """The command line that runs the harness."""
        command = _words(COMMAND_ENV) or list(self.command)
        args = _words(ARGS_ENV)
        if args is None:
            args = None if self.args is None else list(self.args)
        if not command:
            raise HarnessConfigError(f"{COMMAND_ENV} names no command")
        if not args:
            raise HarnessConfigError(
                f"{ARGS_ENV} is not set: give the harness's arguments, say "
                '"--agent agent.ts --task-json-env TASK" (in env_map, or as the args of a subclass)'
            )
        return [*command, "harness", *args]

    def directory(self) -> Optional[str]:
        """Where the harness runs: TRACETRAIN_HARNESS_CWD, the class's ``cwd``, or the controller's."""
        return os.environ.get(CWD_ENV) or self.cwd

    async def launch(self) -> int:
        """Runs the harness to its end with this process's environment; returns its exit code.

        A harness killed by signal N counts as 128 + N, as in a shell. If this coroutine is
        cancelled, the harness is killed too.
        """
        process = await asyncio.create_subprocess_exec(*self.argv(), cwd=self.directory(), stdin=asyncio.subprocess.DEVNULL)
        try:
            code = await process.wait()
        except BaseException:
            if process.returncode is None:
                process.kill()
                await process.wait()
            raise
        return 128 - code if code < 0 else code

    async def run(self) -> None:
        """What the controller awaits: ends the process with the harness's exit code when it is not 0."""
        try:
            code = await self.launch()
        except HarnessConfigError as error:
            print(f"tracetrain_harness: {error}", file=sys.stderr)
            raise SystemExit(USAGE_EXIT) from None
        except FileNotFoundError as error:
            print(f"tracetrain_harness: cannot start the harness: {error} (set {COMMAND_ENV})", file=sys.stderr)
            raise SystemExit(NOT_FOUND_EXIT) from None
        # SystemExit, not an exception: the controller's worker turns any exception into exit code
        # 1 with a traceback, while SystemExit passes through it with the harness's own code.
        if code != 0:
            raise SystemExit(code)


def _words(name: str) -> Optional[List[str]]:
    """A variable as a list of words: a JSON array of strings, or shell-quoted text; None when unset or empty."""
    text = os.environ.get(name, "")
    if text.strip() == "":
        return None
    if text.lstrip().startswith("["):
        try:
            words = json.loads(text)
        except ValueError as error:
            raise HarnessConfigError(f"{name} is not a valid JSON array: {error}") from None
        if not isinstance(words, list) or not all(isinstance(word, str) for word in words):
            raise HarnessConfigError(f"{name} must be a JSON array of strings")
        return words
    try:
        return shlex.split(text)
    except ValueError as error:
        raise HarnessConfigError(f"{name} is not valid shell-quoted text: {error}") from None
