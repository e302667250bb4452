"""behave environment of the MQTT features: asyncbdd's hooks, nothing else.

The aliases and the broker are given with ``-D`` by ``tests/queues/test_mqtt.py``.
"""

from asyncbdd.hooks import install_hooks

install_hooks(globals())
