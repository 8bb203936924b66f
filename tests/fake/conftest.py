"""The scripted-server tests run in a private mount namespace where this
machine's smtprc files, user bus and cache do not exist (a case without -C
would otherwise read /etc/smtprc): see tests/hermetic.py."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import hermetic  # noqa: E402

hermetic.enter()
