"""`python -m cryo_ingest`: the same CLI as `cryo-ingest`."""

import sys

from cryo_ingest.cli import main

sys.exit(main())
