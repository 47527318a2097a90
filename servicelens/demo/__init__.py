"""``servicelens demo``: the main job, end to end, on embedded defaults.

Simulate a contact center (or read the real sets with ``--data-dir``), train every task of the
registry, register and promote through the gates, start the services, call every endpoint as
its users would, check drift, and write one ``index.html`` linking the reports with the key
figures. :mod:`servicelens.demo.examples` holds the example requests (also used by the
served-suite tests and the load benchmark).
"""

from servicelens.demo._pipeline import demo_command, run_demo
from servicelens.demo._state import DemoState

__all__ = ["DemoState", "demo_command", "run_demo"]
