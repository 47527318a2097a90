"""What the demo's steps hand to each other (a leaf module: every step imports it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from servicelens.settings import Settings

__all__ = ["DemoState"]


class DemoState:
    """Data, versions, figures and report paths gathered while the demo runs."""

    def __init__(self, settings: Settings, data_dir: Path | None, seed: int, days: int) -> None:
        self.settings = settings
        self.real_dir = data_dir
        self.seed = seed
        self.days = days
        self.data: dict[str, pd.DataFrame] = {}
        self.versions: dict[str, str] = {}
        self.figures: dict[str, dict[str, Any]] = {}
        self.reports: dict[str, Path] = {}
        self.keys: dict[str, str] = {}
        self.group: Any = None
        self.timings: dict[str, float] = {}
