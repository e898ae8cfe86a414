"""Subcommands of the ``fmitwin`` command line (see fmitwin.cli)."""
