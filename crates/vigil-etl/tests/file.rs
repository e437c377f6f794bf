//! `file` jobs: start, stop, resume after a restart, directories.

mod common;

use std::io::Write;
use std::sync::Arc;

use common::*;
use serde_json::json;
use vigil_etl::{EtlOptions, JobControl, JobManager};
use vigil_pipeline::submit::EventSubmitter;
use vigil_store::{Store, StoreOptions};

fn append(path: &std::path::Path, text: &str) {
    std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap().write_all(text.as_bytes()).unwrap();
}

fn lines(submitter: &RecordingSubmitter) -> Vec<String> {
    submitter.lines().into_iter().map(|(_, line)| line).collect()
}

#[test]
fn file_job_reads_new_lines_once_across_stop_and_restart() {
    let files = tempfile::tempdir().unwrap();
    let store_dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(store_dir.path(), StoreOptions::default()).unwrap());
    let options = EtlOptions { file_roots: vec![files.path().to_owned()], ..EtlOptions::default() };
    let log = files.path().join("a.log");
    append(&log, "one\ntwo\npart");

    let submitter = Arc::new(RecordingSubmitter::default());
    *submitter.refuse_full.lock().unwrap() = 1; // waited out, not dropped
    let manager =
        JobManager::start(Arc::clone(&store), Arc::clone(&submitter) as Arc<dyn EventSubmitter>, options.clone())
            .unwrap();
    let id = manager.start(&json!({"kind": "file", "path": log, "poll_interval": 1})).unwrap();
    wait_until("two lines", || lines(&submitter).len() == 2);
    append(&log, "ial\nthree\n");
    wait_until("the completed lines", || lines(&submitter).len() == 4);
    assert_eq!(lines(&submitter), ["one", "two", "partial", "three"]);
    let origin = format!("etl-file:{}", std::fs::canonicalize(&log).unwrap().display());
    assert!(submitter.lines().iter().all(|(o, _)| *o == origin));

    // Restart: the new manager resumes from the stored offsets.
    manager.shutdown();
    drop(manager);
    append(&log, "four\n");
    let resumed_submitter = Arc::new(RecordingSubmitter::default());
    let resumed = JobManager::start(
        Arc::clone(&store),
        Arc::clone(&resumed_submitter) as Arc<dyn EventSubmitter>,
        options.clone(),
    )
    .unwrap();
    wait_until("the line written while down", || !lines(&resumed_submitter).is_empty());
    wait_until("status after the restart", || resumed.status().iter().any(|s| s["uuid"] == id && s["rows_read"] == 5));
    assert_eq!(lines(&resumed_submitter), ["four"]);

    // An explicit stop is kept: a later manager does not resume the job.
    resumed.stop(&id).unwrap();
    append(&log, "five\n");
    drop(resumed);
    let later_submitter = Arc::new(RecordingSubmitter::default());
    let later = JobManager::start(Arc::clone(&store), Arc::clone(&later_submitter) as Arc<dyn EventSubmitter>, options)
        .unwrap();
    assert_eq!(store.etl_job(&id).unwrap().unwrap().state, "stopped");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(lines(&later_submitter).is_empty());
    assert_eq!(later.status()[0]["state"], "stopped");
}

#[test]
fn directory_jobs_follow_each_file() {
    let files = tempfile::tempdir().unwrap();
    let store_dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(store_dir.path(), StoreOptions::default()).unwrap());
    let options = EtlOptions { file_roots: vec![files.path().to_owned()], ..EtlOptions::default() };
    append(&files.path().join("a.log"), "a1\n");
    append(&files.path().join("b.log"), "b1\n");
    let submitter = Arc::new(RecordingSubmitter::default());
    let manager = JobManager::start(store, Arc::clone(&submitter) as Arc<dyn EventSubmitter>, options).unwrap();
    let id = manager.start(&json!({"kind": "file", "path": files.path(), "poll_interval": 1})).unwrap();
    wait_until("both files", || submitter.lines().len() == 2);
    append(&files.path().join("b.log"), "b2\n");
    wait_until("the appended line", || submitter.lines().len() == 3);
    let mut got = submitter.lines();
    got.sort();
    let origin = |name: &str| format!("etl-file:{}", std::fs::canonicalize(files.path().join(name)).unwrap().display());
    assert_eq!(
        got,
        [(origin("a.log"), "a1".to_owned()), (origin("b.log"), "b1".to_owned()), (origin("b.log"), "b2".to_owned())]
    );
    manager.stop(&id).unwrap();
}
