"""Running one measured step: a child process (a node command, a peer pipeline, a bench helper) timed by
wall clock, with its CPU time and peak RSS as the OS reports them for it and its descendants: for a
shell pipeline, the peak RSS is that of its largest process.

The step runs under GNU ``/usr/bin/time``: on Linux a process's ``ru_maxrss`` keeps the high-water
mark of the image it was forked from, so a child forked straight from this (larger) Python process
would report at least this process's size; ``time`` is small, and what it forks reports its own peak.
Without ``/usr/bin/time`` the ``wait4`` rusage is used, and small tools show this process's size."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

TIME = Path("/usr/bin/time")


class StepFailed(RuntimeError):
    """A measured command exited with an error: the bench stops rather than report a wrong figure."""


@dataclass
class Step:
    """One measured step: what ran, on how many records and bytes, and what it cost."""

    name: str
    group: str  # export | import | ingest | ceiling | latency
    tool: str  # credgap | peer name
    records: int = 0
    bytes: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    stdout: str = field(default="", repr=False)

    @property
    def records_per_s(self) -> float:
        return self.records / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.wall_s if self.wall_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        del d["stdout"]
        d["records_per_s"] = round(self.records_per_s, 1)
        d["mb_per_s"] = round(self.mb_per_s, 2)
        return d


@dataclass(frozen=True)
class Run:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    stdout: str
    stderr: str


def run(
    cmd: Sequence[str] | str,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    check: bool = True,
) -> Run:
    """Run ``cmd`` (an argv, or a shell pipeline as one string) to completion and measure it."""
    shell = isinstance(cmd, str)
    full_env = {**os.environ, **(env or {})}
    argv = ["/bin/bash", "-o", "pipefail", "-c", cmd] if isinstance(cmd, str) else list(cmd)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile() as usage_file:
        if TIME.exists():
            argv = [str(TIME), "-f", "%U %S %M", "-o", usage_file.name, *argv]
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=full_env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
        cpu, rss_kb = usage.ru_utime + usage.ru_stime, float(usage.ru_maxrss)
        reported = Path(usage_file.name).read_text().split()
        if TIME.exists() and len(reported) >= 3:
            cpu, rss_kb = float(reported[-3]) + float(reported[-2]), float(reported[-1])
    if check and proc.returncode != 0:
        shown = cmd if shell else " ".join(cmd)
        raise StepFailed(f"exit {proc.returncode}: {shown}\n{stderr[-2000:]}{stdout[-1000:]}")
    return Run(wall_s=wall, cpu_s=cpu, peak_rss_mb=rss_kb / 1024, stdout=stdout, stderr=stderr)


PROFILE: Path | None = None
"""With ``--profile``: every credgap step runs under cProfile, its statistics saved here (the figures of
such a run are inflated by the profiler; it shows where the time goes, not how much there is)."""


def profiled(name: str, cmd: Sequence[str]) -> list[str]:
    """``cmd`` (a node program or ``python -m ...``) under cProfile, writing ``PROFILE/<name>.prof``."""
    assert PROFILE is not None
    out = PROFILE / (re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-") + ".prof")
    wrap = [sys.executable, "-m", "cProfile", "-o", str(out)]
    if cmd[0] == sys.executable and cmd[1] == "-m":
        return [*wrap, *cmd[1:]]
    return [*wrap, *cmd]


def step(name: str, group: str, tool: str, cmd: Sequence[str] | str, **kw: Any) -> Step:
    """Run ``cmd`` and return it as a :class:`Step` (records and bytes filled in by the caller)."""
    env = kw.pop("env", None)
    cwd = kw.pop("cwd", None)
    if PROFILE is not None and tool == "credgap" and not isinstance(cmd, str):
        cmd = profiled(name, cmd)
    r = run(cmd, env=env, cwd=cwd)
    s = Step(name, group, tool, wall_s=r.wall_s, cpu_s=r.cpu_s, peak_rss_mb=r.peak_rss_mb, **kw)
    s.stdout = r.stdout
    return s


def profile_summary(path: Path, top: int = 14) -> str:
    """The functions a saved profile spent the most own time in, with their share of the total."""
    import io
    import pstats

    stats = pstats.Stats(str(path), stream=io.StringIO())
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]  # type: ignore[attr-defined]
    lines = [f"{path.stem}: {total:.2f} s profiled"]
    for (file, line, func), (_cc, calls, tt, ct, _callers) in rows:
        where = f"{Path(file).parent.name}/{Path(file).name}:{line}" if line else file
        lines.append(
            f"  {tt / total * 100:5.1f}% own {tt:7.2f} s  cum {ct:7.2f} s  {calls:>9,d} calls  {func} ({where})"
        )
    return "\n".join(lines)


def load_average() -> float:
    return os.getloadavg()[0]


def wait_for_quiet(limit: float, max_wait: float, *, say: Any = print) -> float:
    """Wait (up to ``max_wait`` s) until the 1-minute load average is under ``limit``; return it."""
    deadline = time.monotonic() + max_wait
    load = load_average()
    if load < limit or max_wait <= 0:
        return load
    say(f"  load {load:.2f} >= {limit}: waiting up to {max_wait:.0f} s for a quieter machine")
    while time.monotonic() < deadline:
        time.sleep(10)
        load = load_average()
        if load < limit:
            break
    return load
