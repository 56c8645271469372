"""As many times as wanted": many checkpoint/kill/restart cycles in a row."""
import pytest


@pytest.mark.parametrize("prog", ["signals", "fpu", "alarm", "mem_heap", "mem_stack",
                                  "mem_reserve", "mem_layout", "mem_shared", "mem_vdso"])
def test_many_cycles(st, prog):
    st.zdtm(prog, cycles=8)
