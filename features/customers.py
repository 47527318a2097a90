"""Telco-like customer schema and the preprocessing shared by churn training and serving.

The columns follow the IBM "Telco Customer Churn" sample (``../shared/data/telco_churn``).
``TotalCharges`` arrives as text with blanks for brand-new customers; it is coerced to a
number and a blank becomes ``tenure * MonthlyCharges`` (0 for tenure 0), which is what the
bill would say. Unknown or missing category values are kept as missing (LightGBM routes
them the way it learned for missing values), never rejected: only wrong types and
impossible values (negative tenure or charges) are errors.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sklearn.base import BaseEstimator, TransformerMixin

__all__ = [
    "ID_COL",
    "TARGET_COL",
    "CATEGORICAL_COLS",
    "NUMERIC_COLS",
    "FEATURE_COLS",
    "ORDINAL_COLS",
    "CustomerRecord",
    "CustomerDataError",
    "clean_customers",
    "validate_customers",
    "records_to_frame",
    "churn_target",
    "read_customers",
    "missing_feature_columns",
    "CustomerEncoder",
    "EncodedCustomers",
    "Customers",
]

logger = logging.getLogger(__name__)

#: What the scoring path accepts: a frame (raw or cleaned) or validated records (dicts).
Customers = pd.DataFrame | Sequence[Mapping[str, Any]]

ID_COL = "customerID"
TARGET_COL = "Churn"
CATEGORICAL_COLS: list[str] = [
    "gender",
    "Partner",
    "Dependents",
    "PhoneService",
    "MultipleLines",
    "InternetService",
    "OnlineSecurity",
    "OnlineBackup",
    "DeviceProtection",
    "TechSupport",
    "StreamingTV",
    "StreamingMovies",
    "Contract",
    "PaperlessBilling",
    "PaymentMethod",
]
NUMERIC_COLS: list[str] = ["SeniorCitizen", "tenure", "MonthlyCharges", "TotalCharges"]
FEATURE_COLS: list[str] = [
    "gender",
    "SeniorCitizen",
    "Partner",
    "Dependents",
    "tenure",
    *CATEGORICAL_COLS[3:],
    "MonthlyCharges",
    "TotalCharges",
]
#: Ordered categories encoded as ranks so LightGBM can be given a monotone constraint.
ORDINAL_COLS: dict[str, list[str]] = {"Contract": ["Month-to-month", "One year", "Two year"]}


class CustomerDataError(ValueError):
    """A customer record with a wrong type or an impossible value; names the field."""

    def __init__(self, field: str, message: str, row: int | None = None) -> None:
        where = f"row {row}: " if row is not None else ""
        super().__init__(f"{where}{field}: {message}")
        self.field = field
        self.message = message
        self.row = row


class CustomerRecord(BaseModel):
    """One customer as the churn service accepts it (every feature optional but typed)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    customerID: str | None = Field(None, max_length=128)
    gender: str | None = None
    SeniorCitizen: int | None = Field(None, ge=0, le=1)
    Partner: str | None = None
    Dependents: str | None = None
    tenure: float | None = Field(None, ge=0, le=1200, description="Months with the company.")
    PhoneService: str | None = None
    MultipleLines: str | None = None
    InternetService: str | None = None
    OnlineSecurity: str | None = None
    OnlineBackup: str | None = None
    DeviceProtection: str | None = None
    TechSupport: str | None = None
    StreamingTV: str | None = None
    StreamingMovies: str | None = None
    Contract: str | None = None
    PaperlessBilling: str | None = None
    PaymentMethod: str | None = None
    MonthlyCharges: float | None = Field(None, ge=0, le=100_000)
    TotalCharges: float | None = Field(None, ge=0, le=10_000_000)

    @field_validator("TotalCharges", mode="before")
    @classmethod
    def _blank_is_missing(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("customerID", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


def clean_customers(df: pd.DataFrame) -> pd.DataFrame:
    """Coerce types the way the raw file needs (TotalCharges text with blanks); add missing columns."""
    out = df.copy()
    for col in FEATURE_COLS:
        if col not in out.columns:
            out[col] = np.nan
    for col in NUMERIC_COLS:
        out[col] = pd.to_numeric(out[col], errors="coerce")
    blank = out["TotalCharges"].isna() & out["tenure"].notna()
    out.loc[blank, "TotalCharges"] = out.loc[blank, "tenure"] * out.loc[blank, "MonthlyCharges"].fillna(0)
    for col in CATEGORICAL_COLS:
        vals = out[col]
        out[col] = vals.where(vals.isna(), vals.astype(str).str.strip()).replace({"": np.nan})
    if ID_COL in out.columns:
        out[ID_COL] = out[ID_COL].astype(str)
    return out


def validate_customers(df: pd.DataFrame) -> pd.DataFrame:
    """Check types and ranges of a raw frame; raise :class:`CustomerDataError` naming the field.

    Text in a numeric column (other than a blank ``TotalCharges``) is a wrong type; negative
    tenure or charges are impossible values.
    """
    for col in NUMERIC_COLS:
        if col not in df.columns:
            continue
        raw = df[col]
        num = pd.to_numeric(raw, errors="coerce")
        bad = num.isna() & raw.notna()
        if col == "TotalCharges":
            bad &= raw.astype(str).str.strip() != ""
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise CustomerDataError(col, f"expected a number, got {raw.iloc[row]!r}", row)
        lower = 0
        neg = num < lower
        if neg.any():
            row = int(np.flatnonzero(neg.to_numpy())[0])
            raise CustomerDataError(col, f"must be >= 0, got {num.iloc[row]}", row)
    if "SeniorCitizen" in df.columns:
        num = pd.to_numeric(df["SeniorCitizen"], errors="coerce")
        bad = num.notna() & ~num.isin([0, 1])
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise CustomerDataError("SeniorCitizen", "must be 0 or 1", row)
    return clean_customers(df)


def records_to_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Validate dicts with :class:`CustomerRecord` (raises CustomerDataError) into a clean frame."""
    rows = []
    for i, rec in enumerate(records):
        try:
            rows.append(CustomerRecord.model_validate(rec).model_dump())
        except ValidationError as exc:
            err = exc.errors()[0]
            raise CustomerDataError(".".join(str(p) for p in err["loc"]), err["msg"], i) from exc
    return clean_customers(pd.DataFrame(rows, columns=list(CustomerRecord.model_fields)))


def read_customers(path: str | Path) -> pd.DataFrame:
    """A Telco-format CSV as raw rows, ``customerID`` and ``TotalCharges`` kept as text (blanks in
    ``TotalCharges`` are meaningful, see the module docstring). Raises ValueError naming the file.

    Only a blank cell is missing: pandas' default NA words (``n/a``, ``NA``, ``null``, ...) are kept
    as the text the file holds, so :func:`validate_customers` stops at ``"n/a"`` in a numeric column
    instead of scoring it as an unknown value (a category word is an unknown category either way).
    """
    try:
        return pd.read_csv(
            path, dtype={ID_COL: str, "TotalCharges": str}, keep_default_na=False, na_values=[""]
        )
    except FileNotFoundError as exc:
        raise ValueError(f"{path}: no such file") from exc
    except pd.errors.EmptyDataError as exc:
        raise ValueError(f"{path}: empty file (no header, no rows)") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable CSV ({exc})") from exc


def missing_feature_columns(df: pd.DataFrame) -> list[str]:
    """The model's input columns (:data:`FEATURE_COLS`) a file lacks, in schema order.

    A batch file without a whole column is a wrong file (e.g. interval counts passed as customers),
    not a set of customers with unknown values: scoring it would explain every customer by
    "missing" values. One record over HTTP may still leave fields out.
    """
    return [c for c in FEATURE_COLS if c not in df.columns]


def churn_target(df: pd.DataFrame) -> np.ndarray:
    """``Churn`` Yes/No (or 1/0, True/False) as 0/1."""
    col = df[TARGET_COL]
    if col.dtype == object:
        return col.astype(str).str.strip().str.lower().isin(["yes", "1", "true"]).to_numpy(dtype=int)
    return col.astype(int).to_numpy()


class CustomerEncoder(BaseEstimator, TransformerMixin):
    """Raw customer frame -> LightGBM-ready frame (one column per original feature).

    Ordered categories become ranks (monotone-constrainable); others become pandas
    categoricals with the categories learned in ``fit`` (unknown values -> missing).
    One output column per input column keeps per-prediction contributions attributable.
    """

    def __init__(self, ordinal: dict[str, list[str]] | None = None) -> None:
        self.ordinal = ordinal

    def fit(self, X: pd.DataFrame, y: Any = None) -> CustomerEncoder:
        clean = clean_customers(X)
        self.ordinal_ = dict(self.ordinal if self.ordinal is not None else ORDINAL_COLS)
        self.categories_: dict[str, list[str]] = {
            col: sorted(clean[col].dropna().unique().tolist())
            for col in CATEGORICAL_COLS
            if col not in self.ordinal_
        }
        self.feature_names_out_ = list(FEATURE_COLS)
        self.lookups()
        return self

    def lookups(self) -> dict[str, dict[str, float]]:
        """Cleaned category text -> encoded value (code or rank) per category column, built once per
        fitted (or unpickled) encoder and reused by every :meth:`encode` call."""
        cached = self.__dict__.get("_lookups_")
        if cached is None:
            cached = {col: {v: float(i) for i, v in enumerate(cats)} for col, cats in self.ordinal_.items()}
            cached.update(
                {col: {v: float(i) for i, v in enumerate(cats)} for col, cats in self.categories_.items()}
            )
            self._lookups_ = cached
        return cached

    def encode(self, customers: Customers) -> EncodedCustomers:
        """Clean and encode once, without building frames: the fast path of :meth:`transform`.

        Same cleaning as :func:`clean_customers` (numbers coerced, a blank ``TotalCharges`` is
        ``tenure * MonthlyCharges``, category text stripped, blanks missing) and the same encoding as
        :meth:`transform`, but one pass over each column's distinct values instead of pandas work per
        row, so a single customer costs microseconds, not milliseconds.
        """
        n, get, has_id = _column_getter(customers)
        lookups = self.lookups()
        numbers: dict[str, np.ndarray] = {}
        for col in NUMERIC_COLS:
            raw = get(col)
            numbers[col] = (
                np.full(n, np.nan)
                if raw is None
                else np.asarray(pd.to_numeric(raw, errors="coerce"), dtype=float)
            )
        tc, tenure = numbers["TotalCharges"], numbers["tenure"]
        blank = np.isnan(tc) & ~np.isnan(tenure)
        if blank.any():
            tc = tc.copy()
            monthly = numbers["MonthlyCharges"][blank]
            tc[blank] = tenure[blank] * np.where(np.isnan(monthly), 0.0, monthly)
            numbers["TotalCharges"] = tc
        matrix = np.empty((n, len(self.feature_names_out_)))
        cells: list[tuple[np.ndarray, list[str] | None]] = []
        for j, col in enumerate(self.feature_names_out_):
            if col in lookups:
                raw = get(col)
                if raw is None:
                    codes, cleaned = np.full(n, -1, dtype=np.intp), []
                else:
                    codes, uniques = pd.factorize(raw)
                    cleaned = _clean_texts(uniques)
                table = lookups[col]
                values = np.asarray(
                    [table.get(c, np.nan) if c is not None else np.nan for c in cleaned] + [np.nan]
                )
                matrix[:, j] = values[codes]
                cells.append((codes, [c if c is not None else "missing" for c in cleaned] + ["missing"]))
            else:
                matrix[:, j] = numbers[col]
                cells.append((matrix[:, j], None))
        ids = None
        if has_id:
            raw_ids = get(ID_COL).tolist()
            if not all(isinstance(v, str) for v in raw_ids):  # None -> "None", as astype(str) always did
                raw_ids = pd.Series(raw_ids, dtype=object).astype(str).tolist()
            ids = raw_ids
        return EncodedCustomers(matrix, ids, cells)

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        clean = clean_customers(X)
        out = pd.DataFrame(index=clean.index)
        for col in self.feature_names_out_:
            if col in self.ordinal_:
                ranks = {v: float(i) for i, v in enumerate(self.ordinal_[col])}
                out[col] = clean[col].map(ranks).astype(float)
            elif col in self.categories_:
                out[col] = pd.Categorical(clean[col], categories=self.categories_[col])
            else:
                out[col] = clean[col].astype(float)
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(self.feature_names_out_, dtype=object)

    def decode(self, col: str, value: Any) -> str:
        """The business-words value of an encoded cell (rank -> category name)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "missing"
        if col in self.ordinal_:
            idx = int(value)
            cats = self.ordinal_[col]
            return cats[idx] if 0 <= idx < len(cats) else "unknown"
        return _number_text(value)


@dataclass
class EncodedCustomers:
    """Customer rows cleaned and encoded once: the booster's matrix and what a reason shows.

    ``matrix`` is float64 in the encoder's column order (category codes, ordinal ranks, numbers;
    NaN = missing), exactly what LightGBM makes of :meth:`CustomerEncoder.transform`'s frame.
    ``ids`` are the ``customerID`` texts when the input had that column.
    """

    matrix: np.ndarray
    ids: list[str] | None
    #: per column: (codes per row, shown text per code with code -1 last) or (values, None)
    _cells: list[tuple[np.ndarray, list[str] | None]]

    def __len__(self) -> int:
        return len(self.matrix)

    def shown(self, row: int, col: int) -> str:
        """A cell in business words, as :func:`clean_customers` + :meth:`CustomerEncoder.decode` give it:
        the cleaned category text, a number (integers without decimals, others with two), or "missing"."""
        values, texts = self._cells[col]
        if texts is not None:
            return texts[values[row]]
        return _number_text(float(values[row]))


def _number_text(value: Any) -> str:
    """A number in business words: integers without decimals, others with two; NaN is "missing"."""
    if isinstance(value, float):
        if math.isnan(value):
            return "missing"
        return str(int(value)) if value.is_integer() else f"{value:.2f}"
    return str(value)


def _column_getter(customers: Customers) -> tuple[int, Any, bool]:
    """(rows, get(col) -> array or None, has an id column) for a frame or a list of record dicts."""
    if isinstance(customers, pd.DataFrame):
        cols = set(customers.columns)
        return len(customers), (lambda c: customers[c].to_numpy() if c in cols else None), ID_COL in cols
    records = list(customers)
    keys = set().union(*(r.keys() for r in records)) if records else set()

    def get(col: str) -> np.ndarray | None:
        if col not in keys:
            return None
        out = np.empty(len(records), dtype=object)
        out[:] = [r.get(col) for r in records]
        return out

    return len(records), get, ID_COL in keys


def _clean_texts(uniques: Any) -> list[str | None]:
    """:func:`clean_customers` on the distinct values of a category column: text, stripped, "" -> None."""
    if all(isinstance(u, str) for u in uniques):
        cleaned = [u.strip() for u in uniques]
    else:  # numbers in a text column: the same pandas conversion clean_customers applies
        cleaned = pd.Series(uniques).astype(str).str.strip().tolist()
    return [c if c != "" else None for c in cleaned]
