"""Drift at scale, side by side in one run (each stage in its own process for honest peak RSS).

1. A 1,000,000-row x 30-column window against a 50,000-row reference, two cases (injected
   drift in 6 columns; no drift): plain Evidently ``DataDriftPreset`` on the full window vs
   ServiceLens' fast path (stratified 50,000-row sample + borderline re-scoring, with the
   Evidently HTML report; and the same without the report). Same per-column verdicts?
2. A 10,000,000-row window read from the prediction log (SQLite file, 10 features per
   request): ids streamed, a stratified sample fetched in chunks, then drift; peak RSS.
3. Real data: Telco churn, reference = long-tenure customers, current = new customers.

    nice -n 10 python benchmarks/drift_scale.py [--rows 1000000] [--log-rows 10000000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"

N_NUM, N_CAT = 22, 8
CATS = ["a", "b", "c", "d"]
BASE_MIX = [0.4, 0.3, 0.2, 0.1]
DRIFTED = ["num_0", "num_1", "num_2", "num_3", "cat_0", "cat_1"]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_frame(n: int, seed: int, drift: bool) -> pd.DataFrame:
    """30 features; with ``drift``: mean shifts of 0.5 and 0.25 SD, a 1.5x scale change,
    a skewed tail, a 20-point category mix change and a new category."""
    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {}
    for i in range(N_NUM):
        data[f"num_{i}"] = rng.normal(5 * i, 1 + i % 4, n).astype(np.float64)
    for i in range(N_CAT):
        data[f"cat_{i}"] = np.array(CATS, dtype=object)[rng.choice(4, n, p=BASE_MIX)]
    if drift:
        data["num_0"] += 0.5 * 1
        data["num_1"] += 0.25 * 2
        data["num_2"] = 10 + (data["num_2"] - 10) * 1.5
        data["num_3"] = data["num_3"] + rng.exponential(1.0, n) * (rng.random(n) < 0.3) * 4
        data["cat_0"] = np.array(CATS, dtype=object)[rng.choice(4, n, p=[0.2, 0.5, 0.2, 0.1])]
        data["cat_1"] = np.where(rng.random(n) < 0.12, "new", data["cat_1"]).astype(object)
    return pd.DataFrame(data)


def _types(df: pd.DataFrame) -> tuple[list[str], list[str]]:
    return [c for c in df.columns if c.startswith("num")], [c for c in df.columns if c.startswith("cat")]


def stage_plain(rows: int, case: str) -> dict:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    ref, cur = make_frame(50_000, 1, False), make_frame(rows, 2, case == "drift")
    num, cat = _types(ref)
    rss0 = _rss_mb()
    dd = DataDefinition(numerical_columns=num, categorical_columns=cat)
    t = time.perf_counter()
    snap = Report([DataDriftPreset()], include_tests=True).run(
        Dataset.from_pandas(cur, data_definition=dd), Dataset.from_pandas(ref, data_definition=dd)
    )
    raw = snap.dict()
    seconds = time.perf_counter() - t
    verdicts = {
        t["metric_config"]["params"]["column"]: t["status"] == "FAIL"
        for t in raw["tests"]
        if t["id"] == "drift" and "column" in t["metric_config"]["params"]
    }
    return {"seconds": seconds, "peak_rss_mb": _rss_mb(), "rss_before_mb": rss0, "verdicts": verdicts}


def _preload() -> None:
    """Import Evidently before the clock starts (the plain stage does too)."""
    import evidently.presets  # noqa: F401
    from evidently.legacy.calculations.stattests import registry  # noqa: F401


def stage_fast(rows: int, case: str, report: bool) -> dict:
    from monitoring.drift import compute_drift

    _preload()
    ref, cur = make_frame(50_000, 1, False), make_frame(rows, 2, case == "drift")
    num, cat = _types(ref)
    rss0 = _rss_mb()
    t = time.perf_counter()
    res = compute_drift(
        ref, cur, numerical=num, categorical=cat, sample_size=50_000, report=report, progress=True
    )
    if report:
        res.snapshot.dict()
    seconds = time.perf_counter() - t
    return {
        "seconds": seconds,
        "peak_rss_mb": _rss_mb(),
        "rss_before_mb": rss0,
        "verdicts": {c: d.drifted for c, d in res.columns.items()},
        "rescored_full": res.sampling["rescored_full"],
        "sampling": res.sampling,
    }


def make_log(path: Path, rows: int, seed: int = 3) -> None:
    """A prediction-log table with ``rows`` requests of 10 features (drift in the second half)."""
    import sqlite3

    from rich.progress import Progress

    from servicelens.stores.schema import init_db

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    init_db(f"sqlite:///{tmp}")
    con = sqlite3.connect(tmp)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    rng = np.random.default_rng(seed)
    start = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=6)
    step = 6 * 86400 / rows
    chunk = 200_000
    sql = (
        "INSERT INTO prediction_log (record_id, ts, service, endpoint, model_name, model_version, inputs, "
        "outputs, latency_ms) VALUES (?, ?, 'bench', '/score', 'servicelens-bench', '1', ?, ?, 1.0)"
    )
    with Progress() as bar:
        task = bar.add_task(f"writing {rows:,} log rows", total=rows)
        for lo in range(0, rows, chunk):
            n = min(chunk, rows - lo)
            late = (lo + np.arange(n)) >= rows // 2  # the second half of the window drifts
            x = rng.normal(0, 1, (n, 7)).round(4)
            x[late, 0] += 1.0
            c = rng.choice(CATS, (n, 3), p=BASE_MIX)
            c[late, 0] = rng.choice(CATS, int(late.sum()), p=[0.0, 0.6, 0.3, 0.1])
            p = rng.random(n).round(4)
            ts0 = start + dt.timedelta(seconds=lo * step)
            recs = []
            for j in range(n):
                xs = x[j]
                inp = (
                    f'{{"x0":{xs[0]},"x1":{xs[1]},"x2":{xs[2]},"x3":{xs[3]},"x4":{xs[4]},"x5":{xs[5]},'
                    f'"x6":{xs[6]},"c0":"{c[j, 0]}","c1":"{c[j, 1]}","c2":"{c[j, 2]}"}}'
                )
                ts = (ts0 + dt.timedelta(seconds=j * step)).strftime("%Y-%m-%d %H:%M:%S.%f")
                recs.append((f"{lo + j:036d}", ts, inp, f'{{"risk":{p[j]}}}'))
            con.executemany(sql, recs)
            con.commit()
            bar.advance(task, n)
    con.close()
    tmp.rename(path)


def stage_log(path: Path) -> dict:
    from monitoring.drift import compute_drift, read_prediction_window

    _preload()
    rng = np.random.default_rng(4)
    ref = pd.DataFrame({f"x{i}": rng.normal(0, 1, 50_000) for i in range(7)})
    for i in range(3):
        ref[f"c{i}"] = np.array(CATS, dtype=object)[rng.choice(4, 50_000, p=BASE_MIX)]
    os.environ["SERVICELENS_DB_URL"] = f"sqlite:///{path}"
    rss0 = _rss_mb()
    t = time.perf_counter()
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=7)
    cur, preds, n_rows = read_prediction_window("bench", since, sample_size=50_000)
    t_read = time.perf_counter() - t
    res = compute_drift(ref, cur, n_window=n_rows, report=True)
    seconds = time.perf_counter() - t
    return {
        "seconds": seconds,
        "read_seconds": t_read,
        "peak_rss_mb": _rss_mb(),
        "rss_before_mb": rss0,
        "n_window": n_rows,
        "n_scored": res.n_scored,
        "verdicts": {c: d.drifted for c, d in res.columns.items()},
        "scores": {c: round(d.score, 4) for c, d in res.columns.items()},
    }


def stage_telco() -> dict:
    from monitoring.drift import compute_drift

    df = pd.read_csv(SHARED / "telco_churn" / "telco_churn.csv")
    df["TotalCharges"] = pd.to_numeric(df["TotalCharges"], errors="coerce")
    df = df.drop(columns=["customerID", "Churn"])
    t = time.perf_counter()
    res = compute_drift(df[df["tenure"] >= 24], df[df["tenure"] < 12], report=True, progress=False)
    return {
        "seconds": time.perf_counter() - t,
        "dataset_drift": res.dataset_drift,
        "drifted_share": res.drifted_share,
        "drifted": res.drifted_columns,
        "n_reference": res.n_reference,
        "n_current": res.n_current,
    }


def _child(args: list[str]) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SERVICELENS_HOME": os.environ.get("SERVICELENS_HOME", "")}
    if not env["SERVICELENS_HOME"]:
        env["SERVICELENS_HOME"] = str(Path("/tmp") / "servicelens-bench-home")
    out = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, env=env, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"stage {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--log-rows", type=int, default=10_000_000)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/servicelens-bench"))
    ap.add_argument("--stage", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--case", default="drift", help=argparse.SUPPRESS)
    ap.add_argument("--skip-log", action="store_true", help="Skip the 10M-row prediction-log stage.")
    args = ap.parse_args()
    log_path = args.workdir / f"predlog-{args.log_rows}.db"
    if args.stage:  # child process: one measurement, JSON on the last line
        result = {
            "plain": lambda: stage_plain(args.rows, args.case),
            "fast": lambda: stage_fast(args.rows, args.case, report=True),
            "fast-noreport": lambda: stage_fast(args.rows, args.case, report=False),
            "log": lambda: stage_log(log_path),
            "telco": stage_telco,
        }[args.stage]()
        print(json.dumps(result, default=str))
        return

    print(f"== 1. {args.rows:,} x {N_NUM + N_CAT} window vs 50,000-row reference (peak RSS per process)")
    print(f"{'case':<8} {'method':<34} {'seconds':>8} {'speed-up':>9} {'peak MB':>8} {'verdicts':>9} drifted")
    ok = True
    for case in ("drift", "none"):
        plain = _child(["--stage", "plain", "--case", case, "--rows", str(args.rows)])
        rows = [("Evidently DataDriftPreset, full", plain)]
        rows.append(
            (
                "fast: 50k sample + HTML report",
                _child(["--stage", "fast", "--case", case, "--rows", str(args.rows)]),
            )
        )
        rows.append(("fast: 50k sample, scores only", _child(["--stage", "fast-noreport", "--case", case, "--rows", str(args.rows)])))  # fmt: skip
        for name, r in rows:
            same = r["verdicts"] == plain["verdicts"]
            ok &= same
            drifted = sorted(c for c, v in r["verdicts"].items() if v)
            print(
                f"{case:<8} {name:<34} {r['seconds']:>8.1f} {plain['seconds'] / r['seconds']:>8.1f}x "
                f"{r['peak_rss_mb']:>8.0f} {'same' if same else 'DIFFER':>9} {','.join(drifted) or '-'}"
            )
        if case == "drift":
            expected = sorted(DRIFTED)
            print(f"         injected drift in: {','.join(expected)}")
            ok &= sorted(c for c, v in plain["verdicts"].items() if v) == expected
    print(f"verdicts identical to the plain run: {ok}")

    if not args.skip_log:
        print(f"\n== 2. {args.log_rows:,}-row window read from the prediction log (SQLite)")
        if not log_path.exists():
            t = time.perf_counter()
            make_log(log_path, args.log_rows)
            print(
                f"   (built the log in {time.perf_counter() - t:.0f} s: {log_path.stat().st_size / 1e9:.1f} GB)"
            )
        r = _child(["--stage", "log", "--log-rows", str(args.log_rows), "--workdir", str(args.workdir)])
        print(
            f"   window {r['n_window']:,} rows, scored {r['n_scored']:,}: {r['seconds']:.1f} s "
            f"(read {r['read_seconds']:.1f} s), peak RSS {r['peak_rss_mb']:.0f} MB "
            f"({'within' if r['peak_rss_mb'] < 2048 else 'OVER'} 2 GB)"
        )
        print(f"   drifted: {sorted(c for c, v in r['verdicts'].items() if v)}  scores: {r['scores']}")

    print("\n== 3. Telco churn (real data): reference tenure >= 24 months vs current tenure < 12 months")
    r = _child(["--stage", "telco"])
    print(
        f"   {r['n_reference']} vs {r['n_current']} customers: dataset drift {r['dataset_drift']}, "
        f"drifted share {r['drifted_share']:.2f} in {r['seconds']:.1f} s; drifted: {', '.join(r['drifted'])}"
    )


if __name__ == "__main__":
    main()
