"""The small core every part shares: typed params, errors, atomic outputs, start-up, default locations."""
