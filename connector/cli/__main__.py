"""`python -m connector.cli`: the same as the `connector` command."""

import sys

from connector.cli.main import main

sys.exit(main())
