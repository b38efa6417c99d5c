"""`python -m lambda_trace` runs the command line."""

from lambda_trace.cli import main

raise SystemExit(main())
