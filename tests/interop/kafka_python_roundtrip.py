"""kafka-python 3.0.12 in 0.8.2 mode: produce N messages, then consume them back by
manual assignment. Usage: kafka_python_roundtrip.py BOOTSTRAP TOPIC N. Prints OK n."""
import sys
from kafka import KafkaProducer, KafkaConsumer, TopicPartition

bootstrap, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
p = KafkaProducer(bootstrap_servers=bootstrap, api_version=(0, 8, 2), acks=1, linger_ms=5)
for i in range(n):
    p.send(topic, ("kp-%d" % i).encode())
p.flush(30)
p.close()

c = KafkaConsumer(bootstrap_servers=bootstrap, api_version=(0, 8, 2), enable_auto_commit=False,
                  consumer_timeout_ms=15000, group_id=None)
parts = sorted(c.partitions_for_topic(topic) or [])
if not parts:
    print("no partitions", file=sys.stderr)
    sys.exit(2)
c.assign([TopicPartition(topic, x) for x in parts])
c.seek_to_beginning()
seen = set()
for m in c:
    v = m.value.decode()
    if v.startswith("kp-"):
        seen.add(v)
    if len(seen) >= n:
        break
c.close()
missing = n - len(seen)
if missing:
    print("missing %d" % missing, file=sys.stderr)
    sys.exit(1)
print("OK %d" % len(seen))
