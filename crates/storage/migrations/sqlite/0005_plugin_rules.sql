-- Plugin rules of a store (JSON of `PluginRules`): what happens to an
-- order when it arrives. Append-only.
ALTER TABLE stores ADD COLUMN plugin_rules TEXT NOT NULL DEFAULT '{"rules":[]}';
