"""The reader-facing web layer: server-rendered pages, an Atom feed per section and a JSON API over one Store.

Every page is one function in ``pages`` returning a plain dict; the HTML route renders it with a template and the
JSON route returns it as is, so the API and the pages show the same data.
"""
