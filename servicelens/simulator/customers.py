"""Seeded Telco-like customers with churn driven by tenure, contract and contact history.

Assumptions (chosen to mimic the IBM Telco sample's shape, not its exact numbers): churn
log-odds fall with tenure and contract length, rise with fiber internet, electronic-check
payment, paperless billing, high monthly charges, missing security/tech-support add-ons and
with recent support contacts (``contacts_90d``, an extra column the model ignores but that
shifts churn, as unobserved contact history does in real data). New customers (tenure 0)
get a blank ``TotalCharges`` like the real file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["simulate_customers"]


def simulate_customers(n: int = 2000, seed: int = 42) -> pd.DataFrame:
    """``n`` customers in the Telco column format with a ``Churn`` Yes/No column."""
    rng = np.random.default_rng(seed)
    contract = rng.choice(["Month-to-month", "One year", "Two year"], n, p=[0.55, 0.21, 0.24])
    c_rank = pd.Series(contract).map({"Month-to-month": 0, "One year": 1, "Two year": 2}).to_numpy()
    tenure = np.clip(rng.gamma(1.2 + c_rank * 1.5, 14, n).round(), 0, 72).astype(int)
    internet = rng.choice(["DSL", "Fiber optic", "No"], n, p=[0.34, 0.44, 0.22])
    has_net = internet != "No"

    def addon(p: float) -> np.ndarray:
        return np.where(has_net, np.where(rng.random(n) < p, "Yes", "No"), "No internet service")

    phone = np.where(rng.random(n) < 0.9, "Yes", "No")
    multi = np.where(phone == "No", "No phone service", np.where(rng.random(n) < 0.42, "Yes", "No"))
    security, backup, protection, support = addon(0.35), addon(0.43), addon(0.43), addon(0.35)
    tv, movies = addon(0.49), addon(0.5)
    payment = rng.choice(
        ["Electronic check", "Mailed check", "Bank transfer (automatic)", "Credit card (automatic)"],
        n,
        p=[0.34, 0.23, 0.22, 0.21],
    )
    paperless = np.where(rng.random(n) < 0.59, "Yes", "No")
    monthly = (
        20
        + np.where(internet == "Fiber optic", 50, np.where(internet == "DSL", 25, 0))
        + 10 * (tv == "Yes")
        + 10 * (movies == "Yes")
        + 5 * (multi == "Yes")
        + rng.normal(0, 4, n)
    ).round(2)
    total = (monthly * tenure * rng.uniform(0.95, 1.05, n)).round(2)
    contacts = rng.poisson(0.6 + 1.2 * (internet == "Fiber optic") * (support != "Yes"), n)
    senior = (rng.random(n) < 0.16).astype(int)
    logit = (
        -1.2
        - 0.04 * tenure
        - 1.1 * c_rank
        + 0.8 * (internet == "Fiber optic")
        + 0.5 * (payment == "Electronic check")
        + 0.3 * (paperless == "Yes")
        - 0.5 * (security == "Yes")
        - 0.5 * (support == "Yes")
        + 0.3 * senior
        + 0.35 * contacts
        + 0.01 * (monthly - 65)
    )
    churn = rng.random(n) < 1 / (1 + np.exp(-logit))
    df = pd.DataFrame(
        {
            "customerID": [f"SIM-{seed % 1000:03d}-{i:06d}" for i in range(n)],
            "gender": rng.choice(["Female", "Male"], n),
            "SeniorCitizen": senior,
            "Partner": np.where(rng.random(n) < 0.48, "Yes", "No"),
            "Dependents": np.where(rng.random(n) < 0.3, "Yes", "No"),
            "tenure": tenure,
            "PhoneService": phone,
            "MultipleLines": multi,
            "InternetService": internet,
            "OnlineSecurity": security,
            "OnlineBackup": backup,
            "DeviceProtection": protection,
            "TechSupport": support,
            "StreamingTV": tv,
            "StreamingMovies": movies,
            "Contract": contract,
            "PaperlessBilling": paperless,
            "PaymentMethod": payment,
            "MonthlyCharges": monthly,
            "TotalCharges": np.where(tenure == 0, " ", total.astype(str)),
            "contacts_90d": contacts,
            "Churn": np.where(churn, "Yes", "No"),
        }
    )
    return df
