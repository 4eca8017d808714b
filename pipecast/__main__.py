"""``python -m pipecast`` is the ``pipecast`` command."""

from pipecast.cli import main

if __name__ == "__main__":
    main()
