-- An import error a person dealt with outside Switchyard ("Handle
-- manually"): resolved without an import, and by whom.
ALTER TABLE import_errors ADD COLUMN handled_manually_by TEXT;
