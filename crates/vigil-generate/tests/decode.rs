//! Every generated record is a record Vigil's decoders read: sniffed as its source,
//! decoded without a dead letter, at the time the generator says.

use std::time::{SystemTime, UNIX_EPOCH};
use vigil_generate::{Attack, Format, GeneratedRecord, Generator, GeneratorConfig};
use vigil_normalize::{AutoDecoder, SourceKind};

/// auth.log lines carry no year and Vigil reads them in the current one, so traffic
/// whose decoded time is compared is placed in the recent past.
fn recent_start() -> i64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_millis() as i64;
    now - 30 * 60_000 - now.rem_euclid(60_000)
}

fn generate(cfg: GeneratorConfig, seconds: i64) -> Vec<GeneratedRecord> {
    let start = cfg.start_ms;
    let mut g = Generator::new(cfg);
    (0..seconds).flat_map(|s| g.records_for(start + s * 1000, start + (s + 1) * 1000)).collect()
}

#[test]
fn every_record_decodes_as_its_source_at_its_time() {
    let cfg = GeneratorConfig {
        seed: 99,
        rate_per_sec: 120,
        attacks: Attack::ALL.to_vec(),
        attack_interval_ms: 20_000,
        start_ms: recent_start(),
        hosts: 6,
        formats: Vec::new(),
    };
    let records = generate(cfg, 180);
    assert!(records.len() > 20_000, "{} records", records.len());
    let mut decoder = AutoDecoder::new(None);
    let mut events = Vec::new();
    let mut per_format = [0usize; 4];
    for (i, r) in records.iter().enumerate() {
        events.clear();
        let kind = decoder
            .decode(&r.line, &mut events)
            .unwrap_or_else(|e| panic!("record {i} ({}) is a dead letter: {e}\n{}", r.format, r.line));
        assert_eq!(kind.as_str(), r.format.decoder_name(), "record {i} sniffed as {kind}: {}", r.line);
        assert_eq!(events.len(), 1, "record {i} gave {} events: {}", events.len(), r.line);
        let time = events[0].time.unwrap_or_else(|| panic!("record {i} has no time: {}", r.line));
        assert_eq!(time.timestamp_millis(), r.time_ms, "record {i}: {}", r.line);
        assert!(!r.line.contains('\n'), "record {i} spans lines");
        per_format[Format::ALL.iter().position(|f| *f == r.format).unwrap()] += 1;
    }
    let mut held = Vec::new();
    decoder.flush(&mut held);
    assert!(held.is_empty());
    assert!(per_format.iter().all(|&n| n > 1_000), "every format is represented: {per_format:?}");
}

#[test]
fn forced_decoders_read_their_format_too() {
    let cfg = GeneratorConfig {
        seed: 5,
        rate_per_sec: 40,
        attacks: Attack::ALL.to_vec(),
        attack_interval_ms: 10_000,
        start_ms: recent_start(),
        ..GeneratorConfig::default()
    };
    let records = generate(cfg, 60);
    for format in Format::ALL {
        let kind: SourceKind = format.decoder_name().parse().expect("a decoder name");
        let mut decoder = AutoDecoder::new(Some(kind));
        let mut events = Vec::new();
        for r in records.iter().filter(|r| r.format == format) {
            decoder.decode(&r.line, &mut events).unwrap_or_else(|e| panic!("{format}: {e}\n{}", r.line));
        }
        assert!(!events.is_empty(), "{format}");
    }
}

#[test]
fn json_records_are_json_objects_with_the_sources_keys() {
    let cfg =
        GeneratorConfig { seed: 3, rate_per_sec: 60, attacks: Attack::ALL.to_vec(), ..GeneratorConfig::default() };
    for r in generate(cfg, 90) {
        if r.format == Format::AuthLog {
            assert!(r.line.split_whitespace().nth(3).is_some_and(|host| host.starts_with("ip-10-0-")), "{}", r.line);
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&r.line).unwrap_or_else(|e| panic!("{e}: {}", r.line));
        let o = v.as_object().expect("an object");
        match r.format {
            Format::Tetragon => {
                assert!(o.contains_key("node_name") && o.contains_key("time"), "{}", r.line);
                assert!(["process_exec", "process_exit", "process_kprobe"].iter().any(|k| o.contains_key(*k)));
            }
            Format::Cowrie => {
                assert!(["eventid", "timestamp", "src_ip", "session", "sensor"].iter().all(|k| o.contains_key(*k)))
            }
            Format::K8sAudit => {
                assert_eq!(o["apiVersion"], "audit.k8s.io/v1");
                assert!(["auditID", "verb", "user", "objectRef", "requestReceivedTimestamp"]
                    .iter()
                    .all(|k| o.contains_key(*k)));
            }
            Format::AuthLog => unreachable!(),
        }
    }
}
