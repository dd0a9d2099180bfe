"""The interactive shell: ``tidal`` with no arguments.

Modules: ``start`` (``tidal`` itself: the prompt on a terminal, piped input run as a script),
``repl`` (the read-run-show loop), ``backend`` (what runs statements: embedded, or ``remote``
over pgwire), ``lexer`` (tokens, colours, when Enter runs the input), ``completion``,
``commands`` (backslash commands; ``shell_protocol`` is what they see of the shell,
``variables`` the ``\\set`` ones, ``sql_help`` the text of ``\\h``), ``terminal`` (``\\!``,
$PAGER, $EDITOR), ``display`` (results on the terminal or in a file), ``live``
(SUBSCRIBE / \\watch), ``waiting`` (spinner and Ctrl-C while a statement runs). User guide:
docs/shell.md.

This file defines and imports nothing, so the modules' imports of one another cannot run in a
circle through it.
"""
