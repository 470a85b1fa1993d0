"""Dependency vulnerability audit of constraints.txt with pip-audit, for ``make lint``.

Fails when a pinned package has a known vulnerability. Where the advisory source cannot be
reached (this machine reaches the package index's downloads only, not its JSON API or OSV), it
says so, names how many packages went unaudited, and does not fail: an audit that could not run is
reported, never passed off as clean.

Usage: python tools/audit_deps.py constraints.txt
"""

from __future__ import annotations

import json
import subprocess
import sys


def main(requirements: str) -> int:
    done = subprocess.run(  # noqa: S603 - fixed argv, our own constraints file
        [
            sys.executable,
            "-m",
            "pip_audit",
            "--requirement",
            requirements,
            "--no-deps",
            "--disable-pip",
            "--progress-spinner",
            "off",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"dependency audit: NOT RUN, pip-audit could not reach its advisory source: {reason}")
        return 0
    deps = report.get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    skipped = [d for d in deps if "skip_reason" in d]
    for dep in vulnerable:
        ids = ", ".join(v["id"] for v in dep["vulns"])
        print(f"dependency audit: {dep['name']} {dep['version']} is vulnerable: {ids}")
    audited = len(deps) - len(skipped)
    if skipped and not audited:
        print(
            f"dependency audit: NOT RUN, the advisory source did not answer for any of the "
            f"{len(deps)} pinned packages ({skipped[0]['skip_reason']}); run it where "
            "the package index's JSON API is reachable"
        )
    elif skipped:
        print(f"dependency audit: {len(skipped)} of {len(deps)} packages could not be audited")
    if audited:
        print(f"dependency audit: {audited} packages audited, {len(vulnerable)} vulnerable")
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
