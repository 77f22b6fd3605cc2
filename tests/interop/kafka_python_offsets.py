"""kafka-python 3.0.12 committing and fetching consumer offsets against a 0.8 broker.
Usage: kafka_python_offsets.py BOOTSTRAP API_VERSION(0.8.2|0.8.1) GROUP TOPIC N_PARTITIONS.
Commits offset 1000+p (metadata "meta-p") for every partition with one consumer, then
reads them back with a second consumer of the same group; prints one line per partition:
"COMMITTED <topic> <partition> <offset> <metadata>", then "OK"."""
import sys
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

bootstrap, version, group, topic, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
api_version = tuple(int(x) for x in version.split("."))
tps = [TopicPartition(topic, p) for p in range(n)]


def consumer():
    c = KafkaConsumer(bootstrap_servers=bootstrap, api_version=api_version, group_id=group,
                      enable_auto_commit=False, request_timeout_ms=30000)
    c.assign(tps)
    return c


c = consumer()
c.commit({tp: OffsetAndMetadata(1000 + tp.partition, "meta-%d" % tp.partition, -1) for tp in tps})
c.close()

c = consumer()
for tp in tps:
    got = c.committed(tp, metadata=True)
    if got is None:
        print("COMMITTED %s %d none" % (tp.topic, tp.partition))
    else:
        print("COMMITTED %s %d %d %s" % (tp.topic, tp.partition, got.offset, got.metadata or "-"))
c.close()
print("OK")
