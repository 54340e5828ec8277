"""The floor every other part stands on: typed errors, sensor presets and gains, window arithmetic,
nodata helpers, the one progress-callback type and the device choice. Imports nothing of the tool."""
