"""Lineage facts stored with every model version: data fingerprint and code version."""

from __future__ import annotations

import hashlib
import subprocess
from importlib import metadata
from pathlib import Path

import pandas as pd

__all__ = ["data_fingerprint", "code_version", "pip_requirements"]


def data_fingerprint(df: pd.DataFrame, time_col: str | None = None) -> dict[str, str | int]:
    """Hash + row count + time span of a training frame (order-sensitive on purpose)."""
    hashed = pd.util.hash_pandas_object(df, index=False).to_numpy()
    digest = hashlib.sha256(hashed.tobytes())
    digest.update(",".join(map(str, df.columns)).encode())
    out: dict[str, str | int] = {"data_sha256": digest.hexdigest(), "data_rows": int(len(df))}
    if time_col and time_col in df.columns and len(df):
        ts = pd.to_datetime(df[time_col], errors="coerce")
        out["data_start"] = str(ts.min())
        out["data_end"] = str(ts.max())
    return out


def code_version(repo_dir: Path | None = None) -> str:
    """Git sha of the working tree (with ``-dirty``), else the installed package version."""
    cwd = repo_dir or Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return f"{sha}-dirty" if dirty else sha
    except (OSError, subprocess.SubprocessError):
        try:
            return f"servicelens=={metadata.version('servicelens')}"
        except metadata.PackageNotFoundError:
            return "unknown"


_BASE_REQUIREMENTS = ("numpy", "pandas", "scikit-learn", "cloudpickle")


def pip_requirements(extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Explicit, pinned requirements (stops MLflow inferring torch into every model)."""
    reqs = []
    for name in (*_BASE_REQUIREMENTS, *extra):
        try:
            reqs.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            reqs.append(name)
    return reqs
