"""Scripts that call ``openidm.action(...)``: the language contract and the runner.

Languages are plugins (``register_script_languages``); the built-ins are
``python`` (trusted code, in process) and ``javascript`` (QuickJS, limited).
"""

from .base import ScriptLanguage, ScriptLimits, ScriptRun
from .runner import Scripting

__all__ = ["ScriptLanguage", "ScriptLimits", "ScriptRun", "Scripting"]
