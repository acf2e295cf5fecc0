"""Optional sampling of the server under load with py-spy (not a project dependency).

`python -m bench.messages --profile DIR` records each measured window of the Gossip
server into DIR/<phase>.txt (collapsed stacks, the input of flamegraph tools and
speedscope) and prints to stderr the functions that were on the stack most often. py-spy
takes CPU of its own, so the figures of a profiled run are not comparable with others.

    .venv/bin/pip install py-spy        # into the venv only, never into pyproject
    python -m bench.profile DIR/send.txt  # the summary again, from a saved file
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path


def py_spy() -> str | None:
    here = Path(sys.executable).with_name("py-spy")
    return str(here) if here.exists() else shutil.which("py-spy")


def record(pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes]:
    """Starts sampling `pid` (all threads) for `seconds`; wait on the result."""
    exe = py_spy()
    if exe is None:
        raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy")
    return subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            "250",
            "--nonblocking",
            # Only the thread holding the GIL: where the one Python core goes. (Waits show
            # up as busy frames without it; SQLite's C work outside the GIL is not seen.)
            "--gil",
            "--format",
            "raw",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def summarize(path: Path, top: int = 30) -> str:
    """Share of samples with each function on the stack (inclusive) and on top (self)."""
    if not path.exists():
        return f"{path}: py-spy wrote nothing (is ptrace allowed?)"
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        for frame in set(frames):
            inclusive[_short(frame)] += count
        own[_short(frames[-1])] += count
    if not total:
        return f"{path}: no samples"
    lines = [f"{path}: {total} samples; inclusive% self% function (file)"]
    for frame, count in inclusive.most_common(top):
        lines.append(f"{100 * count / total:6.1f} {100 * own[frame] / total:6.1f}  {frame}")
    lines.append("top self time:")
    for frame, count in own.most_common(top // 2):
        lines.append(f"{100 * count / total:6.1f}  {frame}")
    return "\n".join(lines)


def _short(frame: str) -> str:
    # "function (path/to/module.py:123)" -> "function (module.py)"; lines would split counts.
    name, _, where = frame.partition(" (")
    file = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(file).parts
    return f"{name} ({'/'.join(parts[-2:])})" if file else name


def main() -> None:
    parser = argparse.ArgumentParser(description="summarize a py-spy raw profile")
    parser.add_argument("path", type=Path)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    print(summarize(args.path, args.top))


if __name__ == "__main__":
    main()
