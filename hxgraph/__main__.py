"""`python -m hxgraph` is the `hxgraph` command."""

import sys

from hxgraph.cli import main

sys.exit(main())
