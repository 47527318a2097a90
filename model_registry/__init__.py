"""Model registry: the only link between training and serving (MLflow underneath)."""

from model_registry.gates import PRIMARY_METRICS, GateContext, GateResult, register_gate
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
    record_override,
    reference_sample,
    register,
    register_and_promote,
    version_info,
)

__all__ = [
    "GateContext",
    "GateResult",
    "PRIMARY_METRICS",
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
    "record_override",
    "reference_sample",
    "register",
    "register_and_promote",
    "version_info",
]
