import sys

from gcl.cli import main

sys.exit(main())
