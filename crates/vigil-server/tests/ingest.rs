//! `POST /events`, authentication, limits, back-pressure and the response headers, over a
//! real TCP connection.

mod common;

use common::*;
use vigil_server::ServerConfig;

fn ids_of(reply: &Reply) -> Vec<String> {
    reply.json()["event_ids"]
        .as_array()
        .unwrap_or_else(|| panic!("no event_ids in {}", reply.body))
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn single_object_gets_one_id_and_is_submitted_verbatim() {
    let server = TestServer::start(config());
    let body = "{\"message\": \"Failed password for root\",  \"n\":1}";
    let reply = server.post_events(body, Some("application/json"));
    assert_eq!(reply.status, 202, "{}", reply.body);
    let id = reply.json()["event_id"].as_str().unwrap().to_owned();
    assert!(is_uuid_v4(&id), "{id}");
    assert_eq!(server.submitter.calls(), vec![("http".to_owned(), vec![body.to_owned()])]);
}

#[test]
fn array_gets_a_list_of_ids_in_order() {
    let server = TestServer::start(config());
    let reply = server.post_events("[ {\"a\":1},\n {\"b\": [2, 3]} ]", None);
    assert_eq!(reply.status, 202, "{}", reply.body);
    let ids = ids_of(&reply);
    assert_eq!(ids.len(), 2);
    assert!(ids.iter().all(|id| is_uuid_v4(id)), "{ids:?}");
    assert_ne!(ids[0], ids[1]);
    assert_eq!(
        server.submitter.calls(),
        vec![("http".to_owned(), vec!["{\"a\":1}".to_owned(), "{\"b\": [2, 3]}".to_owned()])]
    );
}

#[test]
fn ndjson_sniffed_or_declared_skips_blank_lines() {
    let server = TestServer::start(config());
    let body = "{\"a\":1}\r\n\n{\"b\":2}\n   \n{\"c\":3}\n";
    let expected = vec!["{\"a\":1}".to_owned(), "{\"b\":2}".to_owned(), "{\"c\":3}".to_owned()];

    let sniffed = server.post_events(body, None);
    assert_eq!(sniffed.status, 202, "{}", sniffed.body);
    assert_eq!(ids_of(&sniffed).len(), 3);

    let declared = server.post_events(body, Some("application/x-ndjson"));
    assert_eq!(declared.status, 202, "{}", declared.body);
    assert_eq!(ids_of(&declared).len(), 3);

    // Declared NDJSON of one line is still a batch: the answer is a list.
    let one_line = server.post_events("{\"d\":4}\n", Some("application/x-ndjson"));
    assert_eq!(ids_of(&one_line).len(), 1);

    let calls = server.submitter.calls();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0].1, expected);
    assert_eq!(calls[1].1, expected);
    assert_eq!(calls[2].1, vec!["{\"d\":4}".to_owned()]);
}

#[test]
fn malformed_bodies_are_400_with_a_line_and_submit_nothing() {
    let server = TestServer::start(config());

    let reply = server.post_events("{\"a\":1}\n{\"b\":2}\n{\"c\": oops}\n{\"d\":4}\n", None);
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.json()["line"], 3);
    assert!(reply.error().starts_with("malformed JSON"), "{}", reply.body);

    let reply = server.post_events("[{\"a\":1},\n{\"b\":2},\n\"text\"]", None);
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.json()["line"], 3);
    assert!(reply.error().contains("object"), "{}", reply.body);

    for body in ["", "  \n", "[]", "42", "{\"a\":", "[{\"a\":1}", "{\"a\":1} trailing"] {
        let reply = server.post_events(body, None);
        assert_eq!(reply.status, 400, "{body:?} -> {}", reply.body);
        reply.error();
    }
    let reply = server.post_raw("/events", b"{\"a\":\"\xff\"}", None, Some(WRITE_TOKEN));
    assert_eq!(reply.status, 400, "{}", reply.body);

    assert!(server.submitter.calls().is_empty());
}

#[test]
fn writes_need_the_write_token() {
    let server = TestServer::start(config());
    for token in [None, Some("wrong"), Some(""), Some("write-secret-012345678"), Some("write-secret-01234567890")] {
        let reply = server.post_raw("/events", b"{\"a\":1}", None, token);
        assert_eq!(reply.status, 401, "{token:?}");
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
        // The body may be unread: the connection must not be reused.
        assert_eq!(reply.header("connection"), Some("close"));
        reply.error();
    }
    let basic = server.agent.post(&server.url("/events")).set("Authorization", &format!("Basic {WRITE_TOKEN}"));
    assert_eq!(basic.send_string("{}").unwrap_err().into_response().unwrap().status(), 401);
    assert!(server.submitter.calls().is_empty());

    let reply = server.patch(&format!("/api/alerts/{}", alert_id(0)), "{\"status\":\"closed\"}", None);
    assert_eq!(reply.status, 401);
    let reply = server.patch(&format!("/api/alerts/{}", alert_id(0)), "{\"status\":\"closed\"}", Some("nope"));
    assert_eq!(reply.status, 401);
}

#[test]
fn an_empty_write_token_refuses_every_write() {
    let server = TestServer::start(ServerConfig::new(""));
    let reply = server.agent.post(&server.url("/events")).set("Authorization", "Bearer ").send_string("{}");
    assert_eq!(reply.unwrap_err().into_response().unwrap().status(), 401);
    assert_eq!(server.post_raw("/events", b"{}", None, None).status, 401);
    assert!(server.submitter.calls().is_empty());
}

#[test]
fn bodies_over_the_byte_limit_are_413() {
    let server = TestServer::start(ServerConfig { max_body_bytes: 1024, ..config() });
    let within = format!("{{\"pad\":\"{}\"}}", "x".repeat(1000));
    assert_eq!(server.post_events(&within, None).status, 202);

    let over = format!("{{\"pad\":\"{}\"}}", "x".repeat(1100));
    let reply = server.post_events(&over, None);
    assert_eq!(reply.status, 413, "{}", reply.body);
    reply.error();

    // Without a Content-Length (chunked), the limit applies while reading.
    let chunked = server
        .agent
        .post(&server.url("/events"))
        .set("Authorization", &format!("Bearer {WRITE_TOKEN}"))
        .send(std::io::Cursor::new(over.into_bytes()));
    let response = match chunked {
        Err(ureq::Error::Status(_, response)) => response,
        other => panic!("expected an error status, got {other:?}"),
    };
    assert_eq!(response.status(), 413);
    assert_eq!(server.submitter.calls().len(), 1);
}

#[test]
fn requests_over_the_event_limit_are_413() {
    let server = TestServer::start(ServerConfig { max_events_per_request: 3, ..config() });
    assert_eq!(server.post_events("[{},{},{}]", None).status, 202);
    assert_eq!(server.post_events("{}\n{}\n{}\n", None).status, 202);

    let reply = server.post_events("[{},{},{},{}]", None);
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert!(reply.error().contains('3'), "{}", reply.body);
    assert_eq!(server.post_events("{}\n{}\n{}\n{}\n", Some("application/x-ndjson")).status, 413);
    assert_eq!(server.submitter.calls().len(), 2);
}

#[test]
fn a_full_pipeline_is_429_with_retry_after_and_a_closed_one_503() {
    let server = TestServer::start(config());
    server.submitter.set_mode(SubmitMode::Full { retry_after_secs: 7 });
    let reply = server.post_events("{\"a\":1}", None);
    assert_eq!(reply.status, 429, "{}", reply.body);
    assert_eq!(reply.header("retry-after"), Some("7"));
    reply.error();

    server.submitter.set_mode(SubmitMode::Closed);
    let reply = server.post_events("[{\"a\":1}]", None);
    assert_eq!(reply.status, 503, "{}", reply.body);
    reply.error();

    server.submitter.set_mode(SubmitMode::Accept);
    assert_eq!(server.post_events("{\"a\":1}", None).status, 202);
}

#[test]
fn a_panicking_pipeline_is_a_json_500_and_the_server_lives_on() {
    let server = TestServer::start(config());
    server.submitter.set_mode(SubmitMode::Panic);
    let reply = server.post_events("{\"a\":1}", None);
    assert_eq!(reply.status, 500, "{}", reply.body);
    assert_eq!(reply.error(), "internal server error");
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));

    server.submitter.set_mode(SubmitMode::Accept);
    assert_eq!(server.post_events("{\"a\":1}", None).status, 202);
}

#[test]
fn reads_are_open_without_a_read_token() {
    let server = TestServer::start(config());
    assert_eq!(server.get("/api/events", None).status, 200);
    assert_eq!(server.get("/metrics", None).status, 200);
}

#[test]
fn a_read_token_guards_reads_and_not_health() {
    let server =
        TestServer::start_with(ServerConfig { read_token: Some(READ_TOKEN.to_owned()), ..config() }, fill_store);
    for path in ["/api/events", "/api/alerts", "/api/stats", "/api/dead-letters", "/metrics"] {
        let anonymous = server.get(path, None);
        assert_eq!(anonymous.status, 401, "{path}");
        anonymous.error();
        assert_eq!(server.get(path, Some("not-the-token")).status, 401, "{path}");
        assert_eq!(server.get(path, Some(READ_TOKEN)).status, 200, "{path}");
        assert_eq!(server.get(path, Some(WRITE_TOKEN)).status, 200, "{path}");
    }
    assert_eq!(server.get(&format!("/api/events/{}", event_id(1)), None).status, 401);
    assert_eq!(server.get(&format!("/api/events/{}", event_id(1)), Some(READ_TOKEN)).status, 200);
    assert_eq!(server.get("/healthz", None).status, 200);

    // The read token does not grant writes.
    assert_eq!(server.post_raw("/events", b"{}", None, Some(READ_TOKEN)).status, 401);
    let reply = server.patch(&format!("/api/alerts/{}", alert_id(0)), "{\"status\":\"closed\"}", Some(READ_TOKEN));
    assert_eq!(reply.status, 401);
}

#[test]
fn health_and_metrics() {
    let server = TestServer::start(config());
    let health = server.get("/healthz", None);
    assert_eq!(health.status, 200);
    assert_eq!(health.json(), serde_json::json!({"status": "ok"}));

    let metrics = server.get("/metrics", None);
    assert_eq!(metrics.status, 200);
    assert_eq!(metrics.body, METRICS_TEXT);
    assert_eq!(metrics.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
}

#[test]
fn every_response_carries_the_security_headers_and_errors_are_json() {
    let server = TestServer::start(config());
    let replies = [
        server.get("/healthz", None),
        server.get("/api/events", None),
        server.get("/no/such/route", None),
        server.post_raw("/events", b"{}", None, None),
        server.post_raw("/healthz", b"", None, None),
        server.get("/events", None),
    ];
    for reply in &replies {
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"), "{reply:?}");
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{reply:?}");
        if reply.status >= 400 {
            assert!(reply.header("content-type").unwrap_or("").starts_with("application/json"), "{reply:?}");
            reply.error();
        }
    }
    assert_eq!(replies[2].status, 404);
    assert_eq!(replies[4].status, 405);
    assert_eq!(replies[5].status, 405);
}

#[test]
fn serve_stops_when_told_to() {
    let server = TestServer::start(config());
    assert_eq!(server.get("/healthz", None).status, 200);
    server.stop().unwrap();
}
