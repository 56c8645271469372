"""As many times as wanted": many checkpoint/kill/restart cycles in a row."""
import pytest


@pytest.mark.parametrize("prog", ["signals", "fpu", "alarm", "memory"])
def test_many_cycles(st, prog):
    st.zdtm(prog, cycles=8)
