"""Checks of a trained model beyond test accuracy: behaviour, contrast edits, short texts, calibration."""
