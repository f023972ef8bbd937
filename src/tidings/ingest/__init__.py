"""Getting news in: feeds, OPML, discovery, page extraction and fetching."""
