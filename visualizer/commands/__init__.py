"""The command line behind `visualizer.cli`: one module per command (``add_arguments`` and
``run``), with `common` holding the options several commands share. Library code never sees an
argparse Namespace: each command turns its arguments into an options object.
"""
