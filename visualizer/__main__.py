"""`python -m visualizer` runs the command-line tool."""

from visualizer.cli import main

raise SystemExit(main())
