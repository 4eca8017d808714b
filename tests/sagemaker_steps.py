"""The containers of tests/test_sagemaker_flow.py: ``python sagemaker_steps.py <step> --name value
...`` (the container contract), so the same processes run under the local runner and under the
SageMaker definition interpreter (a command line short enough for SageMaker's 256-character
limit per entry point element)."""

import json
import os
import sys


def _value(path: str, value: object) -> None:
    """An output parameter: its folder may not exist (a spot Training job's /opt/ml/model/<n>)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(json.dumps(value))


def _write(folder: str, name: str, text: str) -> None:
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "w") as f:
        f.write(text)


def main() -> None:
    step, rest = sys.argv[1], sys.argv[2:]
    a = dict(zip(rest[::2], rest[1::2], strict=True))
    if step == "count":
        cam = a["--camera"]
        _write(a["--frames"], "frames.txt", cam)
        _value(a["--count"], {"lobby": 2, "gate": 0, "yard": 7}.get(cam, 1))
    elif step == "detect":
        with open(os.path.join(a["--frames"], "frames.txt")) as f:
            source = f.read()
        _write(a["--detections"], "found.txt", source + ":" + a["--label"])
    elif step == "total":
        counts = json.loads(a["--counts"])
        _write(a["--summary"], "counts.json", json.dumps(counts))
        seen = []
        for d in sorted(os.listdir(a["--frames"])):
            with open(os.path.join(a["--frames"], d, "frames.txt")) as f:
                seen.append(d + "=" + f.read())
        _write(a["--summary"], "folders.txt", ",".join(seen))
        _value(a["--total"], sum(counts))
    elif step == "echo":
        values = {k: v for k, v in a.items() if k != "--out"}  # paths differ between platforms
        _write(a["--out"], "seen.json", json.dumps(values, sort_keys=True))
    elif step == "level":
        _value(a["--level"], int(a["--x"]) * 2)
    else:
        sys.exit(f"unknown step {step}")


if __name__ == "__main__":
    main()
