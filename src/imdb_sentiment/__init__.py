"""IMDb sentiment with recurrent networks: a DVC pipeline from archive to served model."""

__version__ = "0.1.0"
