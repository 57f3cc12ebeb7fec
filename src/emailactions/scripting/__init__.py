"""Scripts that call ``openidm.action(...)``: the language contract and the runner.

Languages are plugins (``register_script_languages``); the built-ins are
``python`` (trusted code, in process) and ``javascript`` (QuickJS, limited).
"""

from emailactions.scripting.base import ScriptLanguage, ScriptLimits, ScriptRun
from emailactions.scripting.runner import Scripting

__all__ = ["ScriptLanguage", "ScriptLimits", "ScriptRun", "Scripting"]
