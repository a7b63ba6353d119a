-- Where an unfinished read of a channel's orders stands (a `ResumePoint`:
-- window, next page token, newest stored, start), written with each page
-- the read stores and cleared with its last. A round cut short goes on
-- from here instead of reading its window again.
ALTER TABLE channels ADD COLUMN import_resume jsonb;
