"""Files: the only part of the tool that uses rasterio (and matplotlib, for quicklooks)."""
