"""SQLite's versioned, append-only migrations. Each entry runs once, in order, inside one transaction.

Timestamps are TEXT in ISO 8601 UTC, compared as text; ``schema_postgres`` builds the same tables for PostgreSQL.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: sources, articles, sections, derived analysis tables, stories.
    """
    CREATE TABLE sources (
        id INTEGER PRIMARY KEY,
        feed_url TEXT UNIQUE,               -- NULL for sources that only arrive by import
        site_url TEXT NOT NULL DEFAULT '',
        name TEXT NOT NULL,
        outlet TEXT NOT NULL,               -- normalised outlet identity: "other sources" means another outlet
        section TEXT NOT NULL DEFAULT '',
        fulltext TEXT NOT NULL DEFAULT 'auto',   -- auto | always | never
        needs_fulltext INTEGER NOT NULL DEFAULT 0,
        etag TEXT,
        last_modified TEXT,
        last_polled_at TEXT,
        last_success_at TEXT,
        next_poll_at TEXT,
        poll_interval INTEGER NOT NULL DEFAULT 1800,
        error_count INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        last_status INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    );
    CREATE INDEX sources_due ON sources (next_poll_at);
    CREATE INDEX sources_outlet ON sources (outlet);

    CREATE TABLE articles (
        id INTEGER PRIMARY KEY,
        source_id INTEGER NOT NULL REFERENCES sources (id),
        guid TEXT NOT NULL DEFAULT '',
        url TEXT NOT NULL UNIQUE,
        canonical_url TEXT NOT NULL DEFAULT '',
        title TEXT NOT NULL,
        summary TEXT NOT NULL DEFAULT '',
        text TEXT NOT NULL DEFAULT '',
        author TEXT NOT NULL DEFAULT '',
        published_at TEXT,                  -- NULL when the source gave no date
        fetched_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        language TEXT NOT NULL DEFAULT '',
        image_url TEXT NOT NULL DEFAULT '',
        site_name TEXT NOT NULL DEFAULT '',
        section TEXT NOT NULL DEFAULT '',
        extraction_error TEXT NOT NULL DEFAULT '',
        content_hash TEXT NOT NULL DEFAULT '',
        story_id INTEGER,
        analysed INTEGER NOT NULL DEFAULT 0 -- 0 until embedding, similar news and story are up to date
    );
    CREATE INDEX articles_source ON articles (source_id, published_at);
    CREATE INDEX articles_guid ON articles (source_id, guid);
    CREATE INDEX articles_canonical ON articles (canonical_url);
    CREATE INDEX articles_published ON articles (published_at);
    CREATE INDEX articles_story ON articles (story_id);
    CREATE INDEX articles_backlog ON articles (analysed);

    CREATE TABLE article_sections (
        article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        section TEXT NOT NULL,
        PRIMARY KEY (article_id, section)
    );
    CREATE INDEX article_sections_section ON article_sections (section, article_id);

    CREATE TABLE embeddings (
        article_id INTEGER PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        vector BLOB NOT NULL
    );

    CREATE TABLE fingerprints (
        article_id INTEGER PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
        minhash BLOB NOT NULL
    );

    CREATE TABLE similar (
        article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        other_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
        score REAL NOT NULL,
        relation TEXT NOT NULL,
        PRIMARY KEY (article_id, other_id)
    );

    CREATE TABLE stories (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        lead_article_id INTEGER,
        first_published_at TEXT,
        last_published_at TEXT,
        size INTEGER NOT NULL DEFAULT 0,
        outlets INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX stories_recent ON stories (last_published_at);
    """,
    # 2: SQLite full-text search over titles and texts (external content: no second copy of the text).
    """
    CREATE VIRTUAL TABLE articles_fts USING fts5 (
        title, summary, text, content='articles', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts (rowid, title, summary, text) VALUES (new.id, new.title, new.summary, new.text);
    END;
    CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
        INSERT INTO articles_fts (articles_fts, rowid, title, summary, text)
        VALUES ('delete', old.id, old.title, old.summary, old.text);
    END;
    CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, summary, text ON articles BEGIN
        INSERT INTO articles_fts (articles_fts, rowid, title, summary, text)
        VALUES ('delete', old.id, old.title, old.summary, old.text);
        INSERT INTO articles_fts (rowid, title, summary, text) VALUES (new.id, new.title, new.summary, new.text);
    END;
    """,
    # 3: newest-first listings (home, sections, sources) without scanning every article.
    """
    CREATE INDEX articles_recent ON articles (COALESCE(published_at, fetched_at) DESC, id DESC);
    """,
    # 4: copies of one text (syndication) grouped, shingle counts for containment, why two articles are linked.
    """
    ALTER TABLE fingerprints ADD COLUMN shingles INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE articles ADD COLUMN copy_group INTEGER;
    CREATE INDEX articles_copy_group ON articles (copy_group);
    ALTER TABLE similar ADD COLUMN why TEXT NOT NULL DEFAULT '';
    """,
    # 5: newest-first listings of one section or one source read an index instead of sorting the whole set.
    """
    ALTER TABLE article_sections ADD COLUMN sort_key TEXT NOT NULL DEFAULT '';
    UPDATE article_sections SET sort_key = (SELECT COALESCE(a.published_at, a.fetched_at) FROM articles a
                                            WHERE a.id = article_sections.article_id);
    CREATE INDEX article_sections_recent ON article_sections (section, sort_key DESC, article_id DESC);
    CREATE INDEX articles_source_recent ON articles (source_id, COALESCE(published_at, fetched_at) DESC, id DESC);
    """,
    # 6: an article's links are cleared both ways when it is analysed again; without this, each clear scanned
    # every link.
    """
    CREATE INDEX similar_other ON similar (other_id);
    """,
    # 7: what the linker compares (content words, names and figures), kept so that an article met again as a
    # candidate is not read and parsed again; NULL where not yet computed.
    """
    ALTER TABLE fingerprints ADD COLUMN words TEXT;
    ALTER TABLE fingerprints ADD COLUMN terms TEXT;
    """,
    # 8: what the last poll of a source skipped, by reason (JSON object of counts), for its health page.
    """
    ALTER TABLE sources ADD COLUMN last_skipped TEXT NOT NULL DEFAULT '';
    """,
    # 9: where a story merged into another now lives, so its address keeps answering (one hop: see move_story).
    """
    CREATE TABLE story_redirects (
        from_id INTEGER PRIMARY KEY,
        to_id INTEGER NOT NULL
    );
    CREATE INDEX story_redirects_to ON story_redirects (to_id);
    """,
    # 10: the analysis backlog shared by several processes: an article is claimed by one analyser at a time (a
    # claim is free again once its analyser is known dead, or older than the lease), and analysed articles are
    # numbered in the order they were done, so every process's index catches up with what the others did.
    """
    ALTER TABLE articles ADD COLUMN claimed_at TEXT;
    ALTER TABLE articles ADD COLUMN claimed_by TEXT;
    ALTER TABLE articles ADD COLUMN analysed_seq INTEGER;
    UPDATE articles SET analysed_seq = id WHERE analysed = 1;
    CREATE INDEX articles_analysed_seq ON articles (analysed_seq);
    """,
    # 11: a poll interval an operator sets for one source (seconds); NULL: adapt to how often it publishes.
    """
    ALTER TABLE sources ADD COLUMN poll_every INTEGER;
    """,
    # 12: the order in which an article's sections were filed, as a column (it was SQLite's rowid).
    """
    ALTER TABLE article_sections ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
    UPDATE article_sections SET position = rowid;
    """,
    # 13: "similar" is a reserved word in PostgreSQL; both stores call the table of links "links".
    """
    ALTER TABLE similar RENAME TO links;
    """,
    # 14: keep and block rules of a source (regular expressions, one a line) applied to each item at ingest.
    """
    ALTER TABLE sources ADD COLUMN keep_rules TEXT NOT NULL DEFAULT '';
    ALTER TABLE sources ADD COLUMN block_rules TEXT NOT NULL DEFAULT '';
    """,
    # 15: where each source's icon was found (the site page looked at, the icon's address, '' when none could be
    # read, and when), so the site's page is not read again for every reader; the picture itself is on disk.
    """
    CREATE TABLE source_icons (
        source_id INTEGER PRIMARY KEY REFERENCES sources (id) ON DELETE CASCADE,
        site_url TEXT NOT NULL,
        icon_url TEXT NOT NULL DEFAULT '',
        checked_at TEXT NOT NULL
    );
    """,
]
