"""Per-test failure counts over several JUnit XML reports (``scripts/test.sh --repeat N``).

Usage: python scripts/flaky_report.py .rdg/repeat/run-*.xml
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import Counter


def main(paths: list[str]) -> int:
    """Print one line per test that ever failed or errored; return 1 if any did."""
    failed: Counter[str] = Counter()
    reasons: dict[str, str] = {}
    for path in paths:
        for case in ET.parse(path).getroot().iter("testcase"):
            bad = case.find("failure") if case.find("failure") is not None else case.find("error")
            if bad is not None:
                name = f"{case.get('classname')}::{case.get('name')}"
                failed[name] += 1
                reasons[name] = (bad.get("message") or "").splitlines()[0][:160] if bad.get("message") else ""
    print(f"{len(paths)} runs; {len(failed)} tests failed at least once")
    for name, count in failed.most_common():
        print(f"  {count}/{len(paths)}  {name}  {reasons[name]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
