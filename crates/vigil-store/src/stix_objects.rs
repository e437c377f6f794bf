//! Imported STIX objects: the `stix_objects` table, written all-or-nothing.
