"""Integrations with machine-learning libraries, one subpackage each.

Importing this package imports no ML library; ``tunesmith.integrations.<lib>`` imports ``<lib>``
and says which extra to install when it is missing.
"""

__all__: list[str] = []
