"""The toolchains of the languages other than Python that the sandbox runs (MultiPL-E's), from
`eval.languages` in the config: how a program's one source file is built and run.

A program passes on exit status 0 with none of the language's failure `markers` in its output: the
rule of MultiPL-E's own evaluators (`evaluation/src/eval_<lang>.py` in nuprl/MultiPL-E), where
mono exits 0 after a failed `Debug.Assert` and prints a trace-listener failure instead. The
toolchains come from Debian packages (`packages`, installed by `make setup`); a language whose
tools are missing, or do not run in the sandbox, is "unavailable" (`Sandbox.toolchain`).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

SANDBOX_PATH = "/usr/bin:/bin"  # the PATH inside the sandbox


@dataclass(frozen=True)
class Toolchain:
    language: str
    file: str                       # the program's file name in the job's directory
    run: tuple[str, ...]            # the command that runs it (after the build, if any)
    build: tuple[str, ...] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    markers: tuple[str, ...] = ()   # output that fails a run exiting 0
    memory_mb: int | None = None    # address-space limit instead of eval.sandbox.memory_mb
    nproc: int | None = None        # processes (threads count) instead of eval.sandbox.nproc
    build_timeout_s: float = 30.0
    packages: str = ""              # the Debian packages that provide it (for the "unavailable" line)

    PROBE_S = 20.0  # `<tool> --version` (a JVM starting on a loaded machine)

    @classmethod
    def from_config(cls, language: str, cfg: Mapping) -> "Toolchain":
        return cls(language=language, file=cfg["file"], run=tuple(cfg["run"]),
                   build=tuple(cfg["build"]) if cfg.get("build") else None, env=dict(cfg.get("env") or {}),
                   markers=tuple(cfg.get("markers") or ()), memory_mb=cfg.get("memory_mb"),
                   nproc=cfg.get("nproc"), build_timeout_s=cfg.get("build_timeout_s", 30.0),
                   packages=cfg.get("packages", ""))

    def tools(self) -> list[str]:
        """The programs the build and run commands start (not the built program itself)."""
        names = [cmd[0] for cmd in (self.build, self.run) if cmd]
        return list(dict.fromkeys(n for n in names if not n.startswith(".")))

    @staticmethod
    def findable(tool: str) -> bool:
        if "/" in tool:
            return Path(tool).is_file()
        return shutil.which(tool, path=SANDBOX_PATH) is not None

    def job(self, source: str, timeout_s: float) -> dict:
        """The runner's job (harness/runner.py) for one program."""
        return {"file": self.file, "source": source, "build": list(self.build) if self.build else None,
                "run": list(self.run), "env": dict(self.env), "markers": list(self.markers),
                "timeout_s": timeout_s, "build_timeout_s": self.build_timeout_s}

    @classmethod
    def probe(cls, tool: str) -> dict:
        """A runner job printing `tool --version`."""
        return {"file": "probe", "source": "", "build": None, "run": [tool, "--version"], "env": {},
                "markers": [], "timeout_s": cls.PROBE_S, "build_timeout_s": 0}


def toolchains(cfg: Mapping[str, Mapping] | None) -> dict[str, Toolchain]:
    """{language: Toolchain} of the `eval.languages` section."""
    return {name: Toolchain.from_config(name, spec) for name, spec in (cfg or {}).items()}
