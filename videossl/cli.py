"""``videossl`` console script: one sub-command per module (see ``videossl.clitools``)."""

from __future__ import annotations

from videossl.clitools import run_cli

# command name -> module defining ``register(subparsers)``
COMMANDS: dict[str, str] = {
    "extract": "videossl.extract",
    "train": "videossl.train.cli",
    "plot": "videossl.train.plot",
    "concepts": "videossl.concepts.generate",
    "metrics": "videossl.metrics.cli",
    "zeroshot": "videossl.zeroshot",
    "eval": "videossl.actions.cli",
    "linear-probe": "videossl.linear_probe",
}


def main(argv: list[str] | None = None) -> int:
    return run_cli("videossl", "Video representation learning: extraction, training, zero-shot.", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
