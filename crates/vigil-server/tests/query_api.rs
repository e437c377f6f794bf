//! The read API and the alert status update against a real store filled through
//! `Store::write_batch`.

mod common;

use std::collections::HashSet;

use common::*;
use serde_json::Value;

fn start() -> TestServer {
    TestServer::start_with(config(), fill_store)
}

fn items(reply: &Reply) -> Vec<Value> {
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["items"].as_array().unwrap_or_else(|| panic!("no items in {}", reply.body)).clone()
}

fn ids(items: &[Value], field: &str) -> Vec<String> {
    items.iter().map(|item| item[field].as_str().unwrap().to_owned()).collect()
}

/// Follows `next` from `first_path` (which must end in a query) to the last page.
fn all_pages(server: &TestServer, first_path: &str, id_field: &str) -> (Vec<String>, usize) {
    let mut collected = Vec::new();
    let mut pages = 0;
    let mut path = first_path.to_owned();
    loop {
        let reply = server.get(&path, None);
        collected.extend(ids(&items(&reply), id_field));
        pages += 1;
        assert!(pages <= 100, "paging does not end");
        match reply.json()["next"].as_str() {
            Some(next) => path = format!("{first_path}&cursor={}", encode(next)),
            None => return (collected, pages),
        }
    }
}

/// Percent-encodes everything but unreserved characters.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn events_newest_first_with_their_fields() {
    let server = start();
    let reply = server.get("/api/events", None);
    let events = items(&reply);
    assert_eq!(events.len(), EVENT_COUNT);
    assert_eq!(reply.json()["next"], Value::Null);
    let expected: Vec<String> = (0..EVENT_COUNT).rev().map(event_id).collect();
    assert_eq!(ids(&events, "event_id"), expected);
    let newest = &events[0];
    assert_eq!(newest["time_ms"], BASE_MS + 19 * MINUTE_MS);
    assert_eq!(newest["host"], "db-1");
    assert_eq!(newest["ocsf"], serde_json::json!({"class_uid": 1007, "n": 19}));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
}

#[test]
fn event_filters() {
    let server = start();
    let odd: Vec<String> = (0..EVENT_COUNT).rev().filter(|i| i % 2 == 1).map(event_id).collect();
    let even: Vec<String> = (0..EVENT_COUNT).rev().filter(|i| i % 2 == 0).map(event_id).collect();
    assert_eq!(ids(&items(&server.get("/api/events?host=db-1", None)), "event_id"), odd);
    assert_eq!(ids(&items(&server.get("/api/events?source=syslog", None)), "event_id"), even);
    assert_eq!(ids(&items(&server.get("/api/events?class_uid=1007", None)), "event_id"), odd);
    assert_eq!(ids(&items(&server.get("/api/events?user=alice", None)), "event_id"), even);
    assert_eq!(ids(&items(&server.get("/api/events?src_ip=203.0.113.4", None)), "event_id"), vec![event_id(4)]);
    assert_eq!(ids(&items(&server.get("/api/events?q=needlework", None)), "event_id"), vec![event_id(7)]);
    assert!(items(&server.get("/api/events?host=nowhere", None)).is_empty());
    // Empty values are no filter at all.
    assert_eq!(items(&server.get("/api/events?host=&user=", None)).len(), EVENT_COUNT);
}

#[test]
fn event_time_range_in_iso_and_epoch_milliseconds() {
    let server = start();
    // [10:05, 10:08): events 5, 6, 7.
    let expected = vec![event_id(7), event_id(6), event_id(5)];
    let iso = server.get("/api/events?from=2026-11-24T10:05:00Z&to=2026-11-24T10:08:00Z", None);
    assert_eq!(ids(&items(&iso), "event_id"), expected);
    let epoch = format!("/api/events?from={}&to={}", BASE_MS + 5 * MINUTE_MS, BASE_MS + 8 * MINUTE_MS);
    assert_eq!(ids(&items(&server.get(&epoch, None)), "event_id"), expected);
    let offset = server.get("/api/events?from=2026-11-24T11:05:00%2B01:00&to=2026-11-24T10:08:00Z", None);
    assert_eq!(ids(&items(&offset), "event_id"), expected);
}

#[test]
fn event_paging_visits_each_event_once() {
    let server = start();
    let (seen, pages) = all_pages(&server, "/api/events?limit=6", "event_id");
    assert_eq!(pages, 4);
    let expected: Vec<String> = (0..EVENT_COUNT).rev().map(event_id).collect();
    assert_eq!(seen, expected);

    let (seen, _) = all_pages(&server, "/api/events?host=web-1&limit=3", "event_id");
    assert_eq!(seen.len(), EVENT_COUNT / 2);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), seen.len());
}

#[test]
fn one_event_or_404() {
    let server = start();
    let reply = server.get(&format!("/api/events/{}", event_id(3)), None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["event_id"], event_id(3));
    assert_eq!(reply.json()["raw"], "record number 3");

    for missing in [
        "/api/events/00000000-0000-4000-8000-999999999999".to_owned(),
        "/api/events/not-an-id".to_owned(),
        format!("/api/events/{}", "a".repeat(5000)),
        "/api/events/%00".to_owned(),
    ] {
        let reply = server.get(&missing, None);
        assert_eq!(reply.status, 404, "{missing}: {}", reply.body);
        reply.error();
    }
}

#[test]
fn alerts_list_filters_and_lookup() {
    let server = start();
    let all = items(&server.get("/api/alerts", None));
    assert_eq!(ids(&all, "alert_id"), vec![alert_id(2), alert_id(1), alert_id(0)]);
    assert_eq!(all[0]["status"], "open");

    assert_eq!(ids(&items(&server.get("/api/alerts?level=critical", None)), "alert_id"), vec![alert_id(1)]);
    assert_eq!(ids(&items(&server.get("/api/alerts?rule_id=rule-0", None)), "alert_id"), vec![alert_id(0)]);
    assert_eq!(ids(&items(&server.get("/api/alerts?host=db-1", None)), "alert_id"), vec![alert_id(2)]);
    assert_eq!(items(&server.get("/api/alerts?status=open", None)).len(), 3);
    assert!(items(&server.get("/api/alerts?status=closed", None)).is_empty());

    let (paged, pages) = all_pages(&server, "/api/alerts?limit=2", "alert_id");
    assert_eq!((paged.len(), pages), (3, 2));

    let one = server.get(&format!("/api/alerts/{}", alert_id(1)), None);
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["rule_title"], "Rule number 1");
    assert_eq!(one.json()["event_ids"], serde_json::json!([event_id(1)]));
    assert_eq!(server.get("/api/alerts/00000000-0000-4000-9000-999999999999", None).status, 404);
}

#[test]
fn alert_status_round_trip() {
    let server = start();
    let path = format!("/api/alerts/{}", alert_id(0));

    let reply = server.patch(&path, "{\"status\":\"acknowledged\"}", Some(WRITE_TOKEN));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["alert_id"], alert_id(0));
    assert_eq!(reply.json()["status"], "acknowledged");
    assert_eq!(server.get(&path, None).json()["status"], "acknowledged");
    assert_eq!(ids(&items(&server.get("/api/alerts?status=acknowledged", None)), "alert_id"), vec![alert_id(0)]);

    let reply = server.patch(&path, "{\"status\":\"closed\"}", Some(WRITE_TOKEN));
    assert_eq!(reply.json()["status"], "closed");
    let reply = server.patch(&path, "{\"status\":\"open\"}", Some(WRITE_TOKEN));
    assert_eq!(reply.json()["status"], "open");
}

#[test]
fn alert_status_errors() {
    let server = start();
    let path = format!("/api/alerts/{}", alert_id(0));
    for body in [
        "{\"status\":\"resolved\"}",
        "{\"status\":\"OPEN\"}",
        "{\"status\":3}",
        "{}",
        "{\"status\":\"closed\",\"extra\":1}",
        "not json",
        "",
    ] {
        let reply = server.patch(&path, body, Some(WRITE_TOKEN));
        assert_eq!(reply.status, 400, "{body:?}: {}", reply.body);
        reply.error();
    }
    let big = format!("{{\"status\":\"closed\",\"pad\":\"{}\"}}", "x".repeat(10_000));
    assert_eq!(server.patch(&path, &big, Some(WRITE_TOKEN)).status, 413);
    assert_eq!(server.get(&path, None).json()["status"], "open");

    let reply =
        server.patch("/api/alerts/00000000-0000-4000-9000-999999999999", "{\"status\":\"closed\"}", Some(WRITE_TOKEN));
    assert_eq!(reply.status, 404, "{}", reply.body);
    reply.error();
}

/// A client that writes a refused body in full before reading still gets the 413, not a
/// reset: the server reads (and discards) a bounded amount of it first. Without that, the
/// server answers and closes while the body is still being written, and the writes fail.
#[test]
fn refused_bodies_are_drained_so_the_client_reads_the_413() {
    let server = start();
    let body = vec![b'x'; 64 * 1024];
    for declared in [true, false] {
        let framing =
            if declared { format!("Content-Length: {}", body.len()) } else { "Transfer-Encoding: chunked".to_owned() };
        let wire = if declared {
            body.clone()
        } else {
            let mut chunked = format!("{:x}\r\n", body.len()).into_bytes();
            chunked.extend_from_slice(&body);
            chunked.extend_from_slice(b"\r\n0\r\n\r\n");
            chunked
        };
        let head = format!(
            "PATCH /api/alerts/{} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {WRITE_TOKEN}\r\n\
             Content-Type: application/json\r\n{framing}\r\nConnection: close\r\n\r\n",
            alert_id(0)
        );
        let (status, reply) = server.raw_request_written_in_full(&head, &wire);
        assert_eq!(status, 413, "{framing}: {reply}");
    }
}

#[test]
fn stats_counts_buckets_and_top_lists() {
    let server = start();
    let reply = server.get("/api/stats?from=2026-11-24T10:00:00Z&to=2026-11-24T11:00:00Z&bucket=10m&top=1", None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let stats = reply.json();
    assert_eq!(stats["dead_letters"], DEAD_LETTER_COUNT);
    let buckets = stats["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 6);
    assert_eq!(buckets[0]["start_ms"], BASE_MS);
    assert_eq!(buckets[0]["events"], 10);
    assert_eq!(buckets[1]["events"], 10);
    let bucketed: u64 = buckets.iter().map(|b| b["events"].as_u64().unwrap()).sum();
    assert_eq!(bucketed, EVENT_COUNT as u64);
    assert_eq!(stats["top_hosts"].as_array().unwrap().len(), 1);

    let epoch = format!("/api/stats?from={BASE_MS}&to={}&bucket=600000", BASE_MS + 60 * MINUTE_MS);
    assert_eq!(server.get(&epoch, None).json()["buckets"], stats["buckets"]);
}

#[test]
fn dead_letters_page() {
    let server = start();
    let first = server.get("/api/dead-letters?limit=2", None);
    assert_eq!(items(&first).len(), 2);
    assert_eq!(items(&first)[0]["message"], "bad record 4");
    let mut messages = Vec::new();
    let mut path = "/api/dead-letters?limit=2".to_owned();
    loop {
        let reply = server.get(&path, None);
        messages.extend(items(&reply).iter().map(|item| item["message"].as_str().unwrap().to_owned()));
        match reply.json()["next"].as_str() {
            Some(next) => path = format!("/api/dead-letters?limit=2&cursor={}", encode(next)),
            None => break,
        }
    }
    let expected: Vec<String> = (0..DEAD_LETTER_COUNT).rev().map(|i| format!("bad record {i}")).collect();
    assert_eq!(messages, expected);
}

#[test]
fn bad_parameters_are_400_json_naming_the_parameter() {
    let server = start();
    let cases = [
        ("/api/events?from=yesterday", "from"),
        ("/api/events?to=2026-13-45T00:00:00Z", "to"),
        ("/api/events?from=5&to=4", "from"),
        ("/api/events?limit=-1", "limit"),
        ("/api/events?limit=99999999999", "limit"),
        ("/api/events?class_uid=process", "class_uid"),
        ("/api/events?hots=web-1", "hots"),
        ("/api/events?host=a&host=b", "host"),
        ("/api/alerts?status=bogus", "status"),
        ("/api/alerts?limit=ten", "limit"),
        ("/api/stats?bucket=0", "bucket"),
        ("/api/stats?bucket=5parsecs", "bucket"),
        ("/api/stats?top=-3", "top"),
        ("/api/dead-letters?limit=x", "limit"),
        ("/api/dead-letters?from=1", "from"),
    ];
    for (path, parameter) in cases {
        let reply = server.get(path, None);
        assert_eq!(reply.status, 400, "{path}: {}", reply.body);
        assert!(reply.header("content-type").unwrap().starts_with("application/json"));
        let message = reply.error();
        assert!(message.contains(&format!("`{parameter}`")), "{path}: {message}");
    }
}

#[test]
fn store_rejections_are_400_json() {
    let server = start();
    for path in [
        "/api/events?cursor=garbage",
        "/api/alerts?cursor=%00%01",
        "/api/dead-letters?cursor=zzzz",
        "/api/events?q=%22unbalanced",
        "/api/events?q=AND%20OR",
        "/api/stats?from=2026-11-24T10:00:00Z&to=2026-11-24T10:00:00Z",
    ] {
        let reply = server.get(path, None);
        assert_eq!(reply.status, 400, "{path}: {}", reply.body);
        reply.error();
    }
}
