"""IMDb sentiment with recurrent networks: a DVC pipeline from archive to served model."""
