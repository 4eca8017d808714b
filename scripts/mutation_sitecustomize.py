"""Installed as ``sitecustomize.py`` in mutmut's ``mutants/`` folder by ``scripts/mutation.sh``.

The local runner starts Python steps in child processes with the parent's ``sys.path``, so a
child imports the mutated copy too. That is what we want while a mutant is tested (the child runs
the mutant). While mutmut collects coverage (``MUTANT_UNDER_TEST=stats``), though, a trampoline in
a child tries to record the hit through mutmut's configuration, which it cannot find from the
child's working directory, and the step fails. Coverage comes from the parent process anyway, so
a child simply runs the original code then.
"""

import os

if os.environ.get("MUTANT_UNDER_TEST") == "stats":
    os.environ["MUTANT_UNDER_TEST"] = ""

# A child that imports the mutated copy of the DSL (``pipecast validate`` run by a test) goes
# through mutmut's trampolines too: treat mutmut's frames as pipecast's own there as well, as
# mutation_plugin.py does in the test process, so file:line still names the user's file.
try:
    import mutmut

    from pipecast.dsl import _location

    _mutmut_dir = os.path.dirname(os.path.abspath(mutmut.__file__)) + os.sep
    if _mutmut_dir not in _location._OWN_DIRS:
        _location._OWN_DIRS = (*_location._OWN_DIRS, _mutmut_dir)
except Exception:  # not a pipecast child, or no mutmut here: nothing to adjust
    pass
