"""`python -m shared.contracts --golden`: print the golden contract of every published event schema."""
from __future__ import annotations

import argparse
import sys

from shared.contracts import golden


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.contracts", description=__doc__)
    parser.add_argument("--golden", action="store_true", required=True,
                        help="print the golden copy (JSON) to redirect into tests/contract/golden/events.json")
    parser.parse_args(argv)
    sys.stdout.write(golden())
    return 0


if __name__ == "__main__":
    sys.exit(main())
