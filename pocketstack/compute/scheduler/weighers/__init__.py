"""Scheduler weighers: higher weight wins."""
