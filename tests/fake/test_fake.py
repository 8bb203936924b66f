"""Run every scripted fake-server case (tests/fake/cases/*.case) against
the built binary: $SMTPSEND, default <repo>/build/smtpsend."""

import glob
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import fakeserver  # noqa: E402

CASES = sorted(glob.glob(os.path.join(HERE, "cases", "*.case")))
BINARY = os.environ.get("SMTPSEND", os.path.join(ROOT, "build", "smtpsend"))


@pytest.mark.parametrize("path", CASES, ids=[os.path.basename(c)[:-5]
                                             for c in CASES])
def test_case(path, tmp_path):
    if not os.access(BINARY, os.X_OK):
        pytest.skip("no smtpsend binary at %s (set SMTPSEND)" % BINARY)
    res = fakeserver.run_case(path, os.path.abspath(BINARY), str(tmp_path))
    assert not res.errors, res.report()


def test_cases_parse():
    """Every case file is well formed, whatever the binary."""
    assert CASES
    for path in CASES:
        case = fakeserver.parse_case(path)
        fakeserver.parse_script(case["server"])
        int(case["exit"].strip())
