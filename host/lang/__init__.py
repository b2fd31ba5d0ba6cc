"""The pattern language: text a person writes, compiled to bytecode the device verifies and plays.

compile_file(path, profile) -> Program      compile_source(text, filename, profile)
CompileError carries every error of a file, each as `file:line:col: message` + caret line.
"""

from .compiler import CompileError, Program, compile_file, compile_source

__all__ = ["CompileError", "Program", "compile_file", "compile_source"]
