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
