"""The ``ccbridge`` command line: one module per command group."""
