"""The heart of Tidings: which articles are copies of one text, which report one event, and which story each
belongs to. ``plan`` decides the links of a fresh article, ``recluster`` settles the stories of a window of
articles; both are pure functions over plain evidence. ``apply`` is the one place that writes their plans."""
