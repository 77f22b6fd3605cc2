"""pykafka 2.8.0 balanced consumer (its own ZooKeeper layout), in a group of its own, reads
a whole topic and commits. Usage: pykafka_balanced.py ZK_CONNECT TOPIC N GROUP.
Prints OK <consumed> <committed-sum>."""
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
committed = sum(max(r.offset, 0) for _, r in check.fetch_offsets())
check.stop()
if len(seen) < n:
    print("missing %d" % (n - len(seen)), file=sys.stderr)
    sys.exit(1)
if committed < n - len(t.partitions):
    print("committed only %d" % committed, file=sys.stderr)
    sys.exit(1)
print("OK %d %d" % (len(seen), committed))
