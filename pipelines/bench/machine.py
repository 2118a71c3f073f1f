"""The machine a benchmark ran on, and how a measured ratio is written.

Every speed or memory figure is a ratio against a baseline measured in the same run, and every
report records `machine()`. In Markdown a measured ratio is written `ratio(x)` = "×1.23" and
nothing else uses "×", so a reader (or a test) can find them all.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from dssm.io import versions


def ratio(x: float | None) -> str:
    """A measured ratio as Markdown shows it: "×1.23"; "–" when there is no baseline."""
    return "–" if x is None or x != x else f"×{x:.2f}"


def reset_peak_rss() -> None:
    """Reset this process's resident-set high-water mark (Linux: /proc/self/clear_refs), so `peak_rss_mb` measures from here."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_rss_mb() -> float | None:
    """This process's resident-set high-water mark in MB (VmHWM), None where /proc does not say."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's model name from /proc/cpuinfo ("model name", else ARM's "Hardware"/"Model"); else platform.processor()."""
    try:
        fields = dict(line.split(":", 1) for line in cpuinfo.read_text().splitlines() if ":" in line)
    except OSError:
        fields = {}
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    for key in ("model name", "Hardware", "Model"):
        if fields.get(key):
            return fields[key]
    return platform.processor() or platform.machine() or "unknown"


def ram_bytes(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """Total RAM: MemTotal from /proc/meminfo, else page size × physical pages; None when neither is known."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def gpu() -> str:
    """torch.cuda.get_device_name of the first GPU (with the count when several), else "none"."""
    try:
        import torch
    except ImportError:
        return "none"
    if not torch.cuda.is_available():
        return "none"
    n = torch.cuda.device_count()
    return torch.cuda.get_device_name(0) + (f" ({n} devices)" if n > 1 else "")


def machine() -> dict[str, Any]:
    """The machine a benchmark ran on, recorded in every report.

    cores_available: logical cores this process may run on (`os.sched_getaffinity`, else
    `os.cpu_count()`); cores_total: all logical cores; versions: `dssm.io.versions()`.
    """
    return {
        "cpu": cpu_model(),
        "cores_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cores_total": os.cpu_count(),
        "ram_bytes": ram_bytes(),
        "gpu": gpu(),
        "os": platform.platform(),
        "versions": versions(),
    }


def machine_line(m: dict[str, Any]) -> str:
    """One line naming the machine: CPU, cores, RAM, GPU, OS."""
    ram = f"{m['ram_bytes'] / 2**30:.1f} GiB RAM" if m.get("ram_bytes") else "RAM unknown"
    return f"{m['cpu']}, {m['cores_available']} of {m['cores_total']} logical cores, {ram}, GPU: {m['gpu']}, {m['os']}"
