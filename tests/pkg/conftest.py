"""Fixtures of the package test: the end-to-end layer's own (certs,
dovecot, postfix), loaded from tests/e2e/conftest.py so that the Postfix
the installed package sends to is the same one every e2e test uses, in the
same private mount namespace (tests/hermetic.py)."""

import importlib.util
import os

_E2E = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "e2e", "conftest.py")
_spec = importlib.util.spec_from_file_location("e2e_conftest", _E2E)
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)

pytest_configure = _e2e.pytest_configure
certs = _e2e.certs
oauth = _e2e.oauth
dovecot = _e2e.dovecot
postfix_session = _e2e.postfix_session
postfix = _e2e.postfix
