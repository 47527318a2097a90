"""Governance service: bias audits over HTTP (see ``service.py``)."""
