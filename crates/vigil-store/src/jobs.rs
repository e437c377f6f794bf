//! Persistence of polling (ETL) jobs: the `etl_jobs` table.
