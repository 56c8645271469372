"""Test hosts: N hosts made of namespaces on this machine, for the
distributed tests (the `net` fixture). The hosts themselves are made by
tests/e2e/nshosts.py (no pytest there: the bench makes them too); here a setup
that fails fails the test, and without root the test skips, saying so (the
hosts need CAP_SYS_ADMIN and CAP_NET_ADMIN; CI runs as root).

Everything is torn down after the test: the processes started through a host
are killed (by process group), then the helpers, and the namespaces go with
their last process.
"""

import pytest

import nshosts
from nshosts import NET, Host  # noqa: F401  (for the tests)


class Hosts(nshosts.Hosts):
    """nshosts.Hosts whose failures fail the test and skip it without root."""

    fail = staticmethod(pytest.fail)
    skip = staticmethod(pytest.skip)


@pytest.fixture
def net(tmp_path):
    """net(n, sshd=False) makes n hosts (a Hosts); all torn down after the test."""
    made = []

    def make(n, sshd=False):
        h = Hosts(tmp_path / f"net{len(made)}", n, sshd)
        made.append(h)
        return h.start()

    yield make
    for h in made:
        h.close()
