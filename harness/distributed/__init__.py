"""Work spread over a Ray cluster: preparing big datasets shard by shard, and the Ray session.

With `harness.tuning.tuner`, this package is the only code in harness that imports ``ray``
(importing it imports Ray: the CLI imports it only when ``--address`` or ``--workers`` asks for a
cluster). The data passes themselves are the Ray-free functions of `harness.data.shards`.
"""

from harness.distributed.prepare import prepare_distributed
from harness.distributed.session import ClusterResources, ray_session

__all__ = ["ClusterResources", "prepare_distributed", "ray_session"]
