"""Registers: SSE/AVX/AVX-512, x87, MXCSR and rounding modes per thread."""


def test_fpu_registers_and_rounding(st):
    text = st.zdtm("fpu", cycles=2)
    assert "iterations" in text
