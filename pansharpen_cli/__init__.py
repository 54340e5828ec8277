"""pansharpen: zero-shot deep pansharpening of georeferenced PAN/MS pairs."""

__version__ = "0.1.0"
