"""``python -m cost_model``: the command line of cost_model/cli.py."""

import sys

from cost_model.cli import main

sys.exit(main())
