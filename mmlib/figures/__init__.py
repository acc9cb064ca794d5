"""Figures: one style, every figure of the study, the layout check."""
