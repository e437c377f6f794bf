//! Reads in insertion order for feeds (TAXII collections, the seed endpoints
//! `GET /tetragon` / `GET /kubescape`): keyset paging on the row id, filters on the
//! Kubernetes context carried in the OCSF object.
