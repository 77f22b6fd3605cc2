"""pykafka 2.8.0 with broker_version 0.8.2: discover brokers from ZooKeeper, produce N
messages, consume them back. Usage: pykafka_roundtrip.py ZK_CONNECT TOPIC N."""
import sys
from pykafka import KafkaClient
from pykafka.common import OffsetType

zk, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
client = KafkaClient(zookeeper_hosts=zk, broker_version="0.8.2")
t = client.topics[topic.encode()]
with t.get_sync_producer(min_queued_messages=1) as prod:
    for i in range(n):
        prod.produce(("pk-%d" % i).encode())
cons = t.get_simple_consumer(auto_offset_reset=OffsetType.EARLIEST, reset_offset_on_start=True,
                             consumer_timeout_ms=15000)
seen = set()
for m in cons:
    if m is None:
        break
    v = m.value.decode()
    if v.startswith("pk-"):
        seen.add(v)
    if len(seen) >= n:
        break
cons.stop()
missing = n - len(seen)
if missing:
    print("missing %d" % missing, file=sys.stderr)
    sys.exit(1)
print("OK %d" % len(seen))
