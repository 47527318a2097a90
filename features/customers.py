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
    "CustomerEncoder",
]

logger = logging.getLogger(__name__)

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
    ``TotalCharges`` are meaningful, see the module docstring). Raises ValueError naming the file."""
    try:
        return pd.read_csv(path, dtype={ID_COL: str, "TotalCharges": str})
    except FileNotFoundError as exc:
        raise ValueError(f"{path}: no such file") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable CSV ({exc})") from exc


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
        return self

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
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return "missing"
        if col in self.ordinal_:
            idx = int(value)
            cats = self.ordinal_[col]
            return cats[idx] if 0 <= idx < len(cats) else "unknown"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        if isinstance(value, float):
            return f"{value:.2f}"
        return str(value)
