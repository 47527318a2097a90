"""Tagging service: intent/category, sentiment and urgency tags with calibrated confidences."""
