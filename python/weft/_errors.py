# SPDX-License-Identifier: MIT
# _errors.py - the exceptions of the weft package and the diagnostic they
# carry; the native module (weft._weft) raises these classes.
"""Exceptions raised by weft."""

from typing import NamedTuple


class Diagnostic(NamedTuple):
    """One problem found in a configuration, at file:line:col (1-based; 0 when unknown)."""

    file: str
    line: int
    col: int
    message: str
    severity: str  # "error" or "warning"

    def __str__(self):
        return f"{self.file}:{self.line}:{self.col}: {self.severity}: {self.message}"


class Error(Exception):
    """A weft call failed.  str() is weft's one-line message; `code` its weft_err number."""

    def __init__(self, message, code=0):
        super().__init__(message)
        self.code = code


class ConfigError(Error):
    """A configuration could not be loaded or checked.  `diagnostics` lists every
    problem found (weft.Diagnostic), errors and warnings, in the order found."""

    def __init__(self, message, code=0, diagnostics=()):
        super().__init__(message, code)
        self.diagnostics = list(diagnostics)

    @property
    def errors(self):
        """The diagnostics of severity "error"."""
        return [d for d in self.diagnostics if d.severity == "error"]
