"""pykafka 2.8.0 balanced consumer (its own ZooKeeper layout), in a group of its own, reads
a whole topic and commits. Usage: pykafka_balanced.py ZK_CONNECT TOPIC N GROUP.
Prints "P <partition> <committed> <log end>" per partition, then OK <consumed> <committed-sum>."""
import sys
from pykafka import KafkaClient
from pykafka.common import OffsetType

zk, topic, n, group = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].encode()
client = KafkaClient(zookeeper_hosts=zk, broker_version="0.8.2")
t = client.topics[topic.encode()]
with t.get_sync_producer(min_queued_messages=1) as prod:
    for i in range(n):
        prod.produce(("bal-%d" % i).encode())
cons = t.get_balanced_consumer(consumer_group=group, zookeeper_connect=zk, auto_commit_enable=False,
                               auto_offset_reset=OffsetType.EARLIEST, reset_offset_on_start=False,
                               consumer_timeout_ms=15000)
seen = set()
for m in cons:
    if m is None:
        break
    seen.add(m.value.decode())
    if len(seen) >= n:
        break
cons.commit_offsets()
cons.stop()
check = t.get_simple_consumer(consumer_group=group)
committed = {pid: r.offset for pid, r in check.fetch_offsets()}
check.stop()
# pykafka commits the next offset to read (last consumed + 1): after reading everything,
# each partition's committed offset is its log end.
latest = {pid: r.offset[0] for pid, r in t.latest_available_offsets().items()}
if len(seen) < n:
    print("missing %d" % (n - len(seen)), file=sys.stderr)
    sys.exit(1)
for pid in sorted(latest):
    print("P %d %d %d" % (pid, committed.get(pid, -1), latest[pid]))
print("OK %d %d" % (len(seen), sum(max(c, 0) for c in committed.values())))
