-- Household timezones checked against a table instead of pg_timezone_names.
--
-- The check of 0002 called a function that scans pg_timezone_names (it reads the time zone files from disk),
-- which cost tens of milliseconds per household written. The names now live in a table, filled from the same
-- source, and a foreign key checks them with an index lookup. A PostgreSQL upgrade that brings new zone names
-- needs `INSERT INTO iana_timezones SELECT name FROM pg_timezone_names ON CONFLICT DO NOTHING`.
CREATE TABLE iana_timezones (
    name text PRIMARY KEY
);

INSERT INTO iana_timezones (name) SELECT DISTINCT name FROM pg_timezone_names;

ALTER TABLE households
    DROP CONSTRAINT households_timezone_iana,
    ADD CONSTRAINT households_timezone_iana FOREIGN KEY (timezone) REFERENCES iana_timezones (name);

DROP FUNCTION jules_is_iana_timezone(text);
