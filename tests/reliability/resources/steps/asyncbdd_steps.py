"""The library's vocabulary, registered afresh for every run of behave in this process.

behave's runner starts each run with an empty step registry, but Python imports a module
only once: a second run in the same process (behave run from pytest, after another test
imported the vocabulary) would find none of the library's steps. Reloading the modules
registers them again; behave ignores a step registered twice from the same place.
"""

import importlib

from asyncbdd import steps
from asyncbdd.steps import parameter_types

for _module in (parameter_types, *(getattr(steps, name) for name in steps.__all__)):
    importlib.reload(_module)
