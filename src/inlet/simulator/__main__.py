"""``python -m inlet.simulator``: the partner-sim commands without the main CLI."""

from inlet.simulator.cli import main

main()
