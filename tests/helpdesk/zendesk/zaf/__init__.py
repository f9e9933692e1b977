"""The ZAF test harness: a stand-in Zendesk parent page and the real SDK, bundled."""
