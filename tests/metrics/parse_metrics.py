"""Scrape a kafka08 metrics endpoint in both exposition formats and parse each with the
Prometheus project's own parsers (prometheus_client); print the samples as JSON.

usage: parse_metrics.py URL

Exits non-zero when either format does not parse, or when the two disagree on a sample.
Output: {"types": {family: type}, "samples": [[name, {label: value}, value], ...]}
"""
import json
import sys
import urllib.request

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text


def scrape(url, accept):
    req = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(req, timeout=20) as resp:
        return resp.headers.get("Content-Type", ""), resp.read().decode("utf-8")


def samples(families):
    types, out = {}, {}
    for f in families:
        types[f.name] = f.type
        for s in f.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            if key in out:
                raise SystemExit("duplicate sample %r" % (key,))
            out[key] = s.value
    return types, out


def main():
    url = sys.argv[1]
    ctype, text = scrape(url, "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
    if not ctype.startswith("text/plain; version=0.0.4"):
        raise SystemExit("0.0.4 scrape answered with Content-Type %r" % ctype)
    types, classic = samples(parse_text(text))
    om_type, om_text = scrape(url, "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
    if not om_type.startswith("application/openmetrics-text"):
        raise SystemExit("OpenMetrics scrape answered with Content-Type %r" % om_type)
    _, om = samples(parse_openmetrics(om_text))
    # Both formats carry the same kafka_* series (process_* may move between scrapes).
    for key, value in classic.items():
        if key[0].startswith("kafka_") and key not in om:
            raise SystemExit("sample %r is missing from the OpenMetrics scrape" % (key,))
    json.dump(
        {"types": types, "samples": [[k[0], dict(k[1]), v] for k, v in sorted(classic.items())]},
        sys.stdout,
    )


if __name__ == "__main__":
    main()
