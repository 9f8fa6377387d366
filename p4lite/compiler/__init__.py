"""p4lite compiler: P4-16 (v1model) to BMv2 JSON and P4Info, like p4c-bm2-ss.

Stages, one module each: `preprocessor` -> `lexer` -> `parser` (`ast`) ->
`frontend` -> `midend` (passes in `lower_*`, IR in `ir`) -> back ends
`bmv2` and `p4info`; `driver` runs them and `__main__` is the CLI. The
compiler shares only the BMv2 JSON format with `p4lite.switch`, never code.
"""

from p4lite.compiler.diagnostics import CompileError, Diagnostic
from p4lite.compiler.driver import Options, Result, compile_file, write_outputs

__all__ = ["CompileError", "Diagnostic", "Options", "Result", "compile_file", "write_outputs"]
