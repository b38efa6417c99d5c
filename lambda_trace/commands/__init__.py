"""One module per `lambda-trace` subcommand; `cli.py` parses, these run."""
