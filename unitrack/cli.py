"""``unitrack`` console script: one sub-command per module (see ``videossl.clitools``)."""

from __future__ import annotations

from videossl.clitools import run_cli

# command name -> module defining ``register(subparsers)``
COMMANDS: dict[str, str] = {
    "data": "unitrack.data.cli",
    "bench": "unitrack.bench",
    "eval": "unitrack.eval",
    "metrics": "unitrack.metrics.cli",
    "track": "unitrack.track",
}


def main(argv: list[str] | None = None) -> int:
    return run_cli("unitrack", "Training-free tracking heads on a frozen appearance model.", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
