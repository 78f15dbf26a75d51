import sys

from opencoder.cli import main

sys.exit(main())
