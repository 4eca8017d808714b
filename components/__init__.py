"""Reusable components for video-inference pipelines, importable as ``pipecast.components.<name>``.

Each component is a folder with its DSL definition, its code and a Dockerfile of its own.
"""

__all__: list[str] = []
