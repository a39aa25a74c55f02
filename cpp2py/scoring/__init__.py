"""Scoring: text metrics and CA@k (metrics.py), contamination (contamination.py), the report (report.py)."""
