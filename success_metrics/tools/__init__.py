"""Tools run from the command line, apart from the runtime: the CLI and the demo."""
