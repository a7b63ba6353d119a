-- A listing's latest push (the newest row that is not superseded), read
-- with every listing and with each listing event in the journal: walked
-- newest first by id instead of sorting all of the listing's pushes.
CREATE INDEX stock_pushes_latest ON stock_pushes(channel_id, listing_id, id);
