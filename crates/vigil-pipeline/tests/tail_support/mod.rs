//! A recording `SinkFactory` and wait helpers, shared by the `tail_*` and `syslog_*`
//! tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use vigil_normalize::SourceKind;
use vigil_pipeline::source::{BatchSink, RawBatch, SinkClosed, SinkFactory};
use vigil_store::Checkpoint;

/// How long a test waits for something that should happen quickly.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// One stream a source opened.
#[derive(Debug, Clone)]
pub struct Stream {
    pub origin: String,
    pub kind: Option<SourceKind>,
    pub batches: Vec<RawBatch>,
    pub finished: bool,
    /// Calls after `finish` (there should be none).
    pub calls_after_finish: usize,
}

impl Stream {
    pub fn texts(&self) -> Vec<String> {
        self.batches.iter().flat_map(|b| b.lines.iter().map(|l| l.text.clone())).collect()
    }
}

#[derive(Debug, Default)]
pub struct Recorded {
    pub streams: Vec<Stream>,
    /// Once set, `send` and `finish` answer `SinkClosed`.
    pub closed: bool,
}

impl Recorded {
    /// Every line's text, stream after stream.
    pub fn texts(&self) -> Vec<String> {
        self.streams.iter().flat_map(Stream::texts).collect()
    }

    pub fn line_count(&self) -> usize {
        self.streams.iter().flat_map(|s| &s.batches).map(|b| b.lines.len()).sum()
    }

    pub fn bad(&self) -> Vec<vigil_pipeline::source::BadLine> {
        self.streams.iter().flat_map(|s| &s.batches).flat_map(|b| b.bad.clone()).collect()
    }

    pub fn finished(&self) -> usize {
        self.streams.iter().filter(|s| s.finished).count()
    }

    /// The streams whose origin ends with `suffix`.
    pub fn streams_ending(&self, suffix: &str) -> Vec<&Stream> {
        self.streams.iter().filter(|s| s.origin.ends_with(suffix)).collect()
    }

    /// The last checkpoint sent for each key.
    pub fn checkpoints(&self) -> Vec<Checkpoint> {
        let mut last: HashMap<String, Checkpoint> = HashMap::new();
        for batch in self.streams.iter().flat_map(|s| &s.batches) {
            if let Some(checkpoint) = &batch.checkpoint {
                last.insert(checkpoint.key.clone(), checkpoint.clone());
            }
        }
        last.into_values().collect()
    }
}

#[derive(Clone, Default)]
pub struct Recorder {
    inner: Arc<Mutex<Recorded>>,
}

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self) -> MutexGuard<'_, Recorded> {
        self.inner.lock().unwrap()
    }

    /// Makes every sink answer `SinkClosed` from now on.
    pub fn close(&self) {
        self.get().closed = true;
    }

    /// Waits until `condition` holds; panics with what was recorded after [`PATIENCE`].
    pub fn wait_until(&self, what: &str, condition: impl Fn(&Recorded) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            {
                let recorded = self.get();
                if condition(&recorded) {
                    return;
                }
                if Instant::now() > deadline {
                    panic!("timed out waiting for {what}; recorded: {:#?}", recorded.streams);
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl SinkFactory for Recorder {
    fn open(&self, origin: &str, kind: Option<SourceKind>) -> Box<dyn BatchSink> {
        let mut recorded = self.get();
        recorded.streams.push(Stream {
            origin: origin.to_string(),
            kind,
            batches: Vec::new(),
            finished: false,
            calls_after_finish: 0,
        });
        Box::new(RecordingSink { recorder: self.clone(), index: recorded.streams.len() - 1 })
    }
}

struct RecordingSink {
    recorder: Recorder,
    index: usize,
}

impl BatchSink for RecordingSink {
    fn send(&mut self, batch: RawBatch) -> Result<(), SinkClosed> {
        let mut recorded = self.recorder.get();
        if recorded.closed {
            return Err(SinkClosed);
        }
        let stream = &mut recorded.streams[self.index];
        if stream.finished {
            stream.calls_after_finish += 1;
        }
        stream.batches.push(batch);
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkClosed> {
        let mut recorded = self.recorder.get();
        if recorded.closed {
            return Err(SinkClosed);
        }
        let stream = &mut recorded.streams[self.index];
        if stream.finished {
            stream.calls_after_finish += 1;
        }
        stream.finished = true;
        Ok(())
    }
}

/// Waits until `condition` holds, or panics after [`PATIENCE`].
pub fn wait_for(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}
