"""proxybench: which cheap proxy ranks NAS architectures like their true accuracy.

The Python API is ``proxybench.api`` (``from proxybench import api as pb``: ``pb.train``,
``pb.score``, ``pb.correlate``, ``pb.list_proxies``); every user-fixable failure raises
``proxybench.ProxybenchError``. ``import proxybench`` itself loads no torch.
"""

from .errors import ProxybenchError

__version__ = "0.1.0"
__all__ = ["ProxybenchError"]
