import sys

from .cli import main

if __name__ == "__main__":  # sweep workers are spawned and import this module as __mp_main__
    sys.exit(main())
