"""Search: evolution and random search over a space, driven by any proxy.

``proxybench.search`` is also the API's :func:`proxybench.api.search`: once this package
is imported, Python binds the name ``search`` of ``proxybench`` to it, so the package is
callable and calls the API function (``pb.search(proxy, out, ...)`` works either way).
"""

import sys
import types


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from ..api import search
        return search(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
