"""Reusable components for video-inference pipelines, importable as ``pipecast.components.<name>``.

- ``extract_frames``: decode videos into frames at a chosen rate (OpenCV).
- ``detect_objects``: find objects per frame with detectors that need no downloaded weights.
- ``track_objects``: link detections across frames into tracks (standard library).
- ``summarize``: a JSON summary and a self-contained HTML report (matplotlib).
- ``synthetic``: sample videos with known ground truth, for demos and tests.

Each component is a folder with its DSL definition (``__init__``), its command-line entry
(``__main__``: the ``--name value`` container contract), its code, a ``Dockerfile`` of its own and
its tests. Importing a definition needs only pipecast; running the code needs the ``components``
extra (or the component's image).
"""

__all__: list[str] = []
