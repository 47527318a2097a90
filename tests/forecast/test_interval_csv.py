"""``features.volume.read_interval_csv``: the one reader behind every CLI that takes an interval file."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.volume import IntervalFileError, read_interval_csv


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (None, ["no such file"]),
        ("", ["empty file"]),
        ("interval_start,calls\n", ["header but no rows"]),
        ("when,calls\n2025-03-03 08:00,4\n", ["no time column", "when"]),
        ("interval_start,volume\n2025-03-03 08:00,4\n", ["no calls column", "volume"]),
        ("interval_start,calls\n2025-03-03 08:00,4\n2025-03-03 08:15,n/a\n", ["line 3", "calls", "'n/a'"]),
        ("interval_start,calls\n2025-03-03 08:00,-2\n", ["line 2", "calls", ">= 0"]),
        ("interval_start,calls\n2025-03-03 08:00,4\nsoon,5\n", ["line 3", "interval_start", "'soon'"]),
    ],
)
def test_bad_files_are_one_line_naming_file_line_and_column(tmp_path: Path, text: str | None, words) -> None:
    path = tmp_path / "actuals.csv"
    if text is not None:
        path.write_text(text)
    with pytest.raises(IntervalFileError) as err:
        read_interval_csv(path, "--actuals", "calls")
    message = str(err.value)
    assert message.startswith(f"--actuals {path}") and "\n" not in message
    assert all(w in message for w in words), message


def test_good_file_keeps_times_as_written_and_values_as_numbers(tmp_path: Path) -> None:
    path = tmp_path / "need.csv"
    path.write_text("ts,required,queue\n2025-03-03T08:00:00-05:00,2.5,a\n2025-03-03T08:15:00-05:00,,a\n")
    raw, time_col, value = read_interval_csv(path, "--requirement", ("agents", "required"), allow_blank=True)
    assert (time_col, value) == ("ts", "required")
    assert raw["ts"].iloc[0] == "2025-03-03T08:00:00-05:00"
    assert raw["required"].iloc[0] == 2.5 and raw["required"].isna().iloc[1]
    with pytest.raises(IntervalFileError, match="line 3, column required"):
        read_interval_csv(path, "--requirement", ("agents", "required"))
