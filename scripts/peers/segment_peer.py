#!/usr/bin/env python3
"""Sends Segment-spec calls to the collector with the real Segment Python client.

  segment_peer.py HOST WRITE_KEY     (HOST like http://127.0.0.1:8080)
Sends identify, track, page, screen, group and alias for two users, flushes, and exits 1 if the
client reported an error.
"""
import sys
from datetime import datetime, timezone

import segment.analytics as analytics

errors = []
analytics.host = sys.argv[1]
analytics.write_key = sys.argv[2]
analytics.on_error = lambda error, items: errors.append(str(error))
analytics.sync_mode = False
analytics.max_retries = 2

when = datetime(2026, 11, 29, 10, 0, 0, tzinfo=timezone.utc)
analytics.identify("user-1", {"email": "ada@example.com", "plan": "pro"}, timestamp=when, message_id="m-identify")
analytics.track("user-1", "Signed Up", {"plan": "pro"}, timestamp=when, message_id="m-track")
analytics.page("user-1", "Docs", "Pricing", {"url": "https://example.com/pricing"}, message_id="m-page")
analytics.screen(anonymous_id="anon-9", category="App", name="Home", message_id="m-screen")
analytics.group("user-1", "org-7", {"name": "Acme"}, message_id="m-group")
analytics.alias("anon-9", "user-1", message_id="m-alias")
analytics.flush()
analytics.shutdown()
if errors:
    sys.exit("segment client errors: " + "; ".join(errors))
