"""Model registry: the only link between training and serving (MLflow underneath)."""

from model_registry.gates import GateContext, GateResult, primary_metric, register_gate
from model_registry.registry import (
    LoadedModel,
    PromotionResult,
    RegisteredVersion,
    history,
    list_models,
    load,
    load_version,
    model_name,
    promote,
    promote_evaluated,
    reconcile_aliases,
    record_override,
    reference_sample,
    register,
    version_info,
)

__all__ = [
    "GateContext",
    "GateResult",
    "primary_metric",
    "register_gate",
    "LoadedModel",
    "PromotionResult",
    "RegisteredVersion",
    "history",
    "list_models",
    "load",
    "load_version",
    "model_name",
    "promote",
    "promote_evaluated",
    "reconcile_aliases",
    "record_override",
    "reference_sample",
    "register",
    "version_info",
]
