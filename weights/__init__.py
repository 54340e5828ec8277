"""Data package: the shipped prior weights (``prior.pt``) and their manifest (``prior.json``).

Kept at the top of the repository and installed as ``pansharpen_cli.weights`` (see the
``package-dir`` mapping in ``pyproject.toml``), so editable and wheel installs find it the same way:
``importlib.resources.files("pansharpen_cli.weights")``. No code lives here.
"""
