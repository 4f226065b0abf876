-- ChittyConnect document storage metadata (the ChittyConnect implementation guide, "R2 Document
-- Storage with D1 Metadata").
-- Objects live in R2 under /chittyid/{chitty_id}/{type}/{document_id}; D1 indexes them.
-- Idempotent (IF NOT EXISTS) so it is safe on a database that already has these tables.

CREATE TABLE IF NOT EXISTS documents (
    document_id   TEXT PRIMARY KEY,
    chitty_id     TEXT NOT NULL,
    type          TEXT NOT NULL CHECK (type IN ('evidence', 'cases', 'attachments', 'templates', 'other')),
    file_name     TEXT NOT NULL,
    mime_type     TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL CHECK (size_bytes >= 0),
    r2_key        TEXT NOT NULL UNIQUE,
    etag          TEXT,
    sha256        TEXT,
    metadata      TEXT NOT NULL DEFAULT '{}',
    current_version INTEGER NOT NULL DEFAULT 1,
    status        TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('uploading', 'active', 'deleted')),
    created_at    TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at    TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    deleted_at    TEXT
);
CREATE INDEX IF NOT EXISTS idx_documents_owner_type ON documents (chitty_id, type, created_at);
CREATE INDEX IF NOT EXISTS idx_documents_file_name ON documents (chitty_id, file_name);

CREATE TABLE IF NOT EXISTS document_versions (
    document_id   TEXT NOT NULL REFERENCES documents (document_id) ON DELETE CASCADE,
    version       INTEGER NOT NULL CHECK (version >= 1),
    r2_key        TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL CHECK (size_bytes >= 0),
    etag          TEXT,
    sha256        TEXT,
    created_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (document_id, version)
);

CREATE TABLE IF NOT EXISTS document_permissions (
    document_id   TEXT NOT NULL REFERENCES documents (document_id) ON DELETE CASCADE,
    grantee_chitty_id TEXT NOT NULL,
    permission    TEXT NOT NULL CHECK (permission IN ('read', 'write', 'share', 'owner')),
    granted_by    TEXT NOT NULL,
    expires_at    TEXT,
    created_at    TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (document_id, grantee_chitty_id, permission)
);
CREATE INDEX IF NOT EXISTS idx_document_permissions_grantee ON document_permissions (grantee_chitty_id);

CREATE TABLE IF NOT EXISTS document_tags (
    document_id   TEXT NOT NULL REFERENCES documents (document_id) ON DELETE CASCADE,
    tag           TEXT NOT NULL,
    created_at    TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (document_id, tag)
);
CREATE INDEX IF NOT EXISTS idx_document_tags_tag ON document_tags (tag);

CREATE TABLE IF NOT EXISTS document_relationships (
    source_document_id TEXT NOT NULL REFERENCES documents (document_id) ON DELETE CASCADE,
    target_document_id TEXT NOT NULL REFERENCES documents (document_id) ON DELETE CASCADE,
    relationship  TEXT NOT NULL CHECK (relationship IN ('attachment_of', 'version_of', 'references', 'supersedes', 'related')),
    created_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (source_document_id, target_document_id, relationship),
    CHECK (source_document_id <> target_document_id)
);
CREATE INDEX IF NOT EXISTS idx_document_relationships_target ON document_relationships (target_document_id);

CREATE TABLE IF NOT EXISTS document_access_log (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id   TEXT NOT NULL,
    chitty_id     TEXT NOT NULL,
    action        TEXT NOT NULL CHECK (action IN ('upload', 'download', 'view', 'update', 'share', 'delete', 'presign')),
    ip_address    TEXT,
    user_agent    TEXT,
    success       INTEGER NOT NULL DEFAULT 1 CHECK (success IN (0, 1)),
    details       TEXT,
    accessed_at   TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS idx_document_access_log_document ON document_access_log (document_id, accessed_at);
CREATE INDEX IF NOT EXISTS idx_document_access_log_actor ON document_access_log (chitty_id, accessed_at);

CREATE TABLE IF NOT EXISTS storage_quotas (
    chitty_id     TEXT PRIMARY KEY,
    quota_bytes   INTEGER NOT NULL DEFAULT 1073741824 CHECK (quota_bytes >= 0),
    used_bytes    INTEGER NOT NULL DEFAULT 0 CHECK (used_bytes >= 0),
    document_count INTEGER NOT NULL DEFAULT 0 CHECK (document_count >= 0),
    updated_at    TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
