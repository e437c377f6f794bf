//! The syslog sockets against real sockets on 127.0.0.1.

mod tail_support;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use tail_support::{wait_for, Recorder};
use vigil_normalize::SourceKind;
use vigil_pipeline::source::file_tail::SourceError;
use vigil_pipeline::source::syslog_net::{run_syslog_tcp, serve_syslog_tcp, serve_syslog_udp, SyslogNetOptions};

fn options() -> SyslogNetOptions {
    SyslogNetOptions {
        flush_interval: Duration::from_millis(20),
        stop_check_interval: Duration::from_millis(10),
        ..SyslogNetOptions::default()
    }
}

struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Result<(), SourceError>>,
}

impl Server {
    fn udp(recorder: &Recorder, opts: SyslogNetOptions) -> Server {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (recorder, stop_flag) = (recorder.clone(), stop.clone());
        let handle = thread::spawn(move || serve_syslog_udp(socket, &recorder, &stop_flag, &opts));
        Server { addr, stop, handle }
    }

    fn tcp(recorder: &Recorder, opts: SyslogNetOptions) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (recorder, stop_flag) = (recorder.clone(), stop.clone());
        let handle = thread::spawn(move || serve_syslog_tcp(listener, &recorder, &stop_flag, &opts));
        Server { addr, stop, handle }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Release);
        self.handle.join().expect("the server panicked").expect("the server failed");
    }
}

#[test]
fn udp_datagrams_are_messages_and_their_lines_records() {
    let recorder = Recorder::new();
    let server = Server::udp(&recorder, options());
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    for datagram in [&b"<13>one"[..], b"<13>two\n<13>three\n", b"", b"<13>four\r\n"] {
        client.send_to(datagram, server.addr).unwrap();
    }
    recorder.wait_until("four messages", |r| r.line_count() == 4);
    let addr = server.addr;
    server.stop();

    let recorded = recorder.get();
    assert_eq!(recorded.texts(), ["<13>one", "<13>two", "<13>three", "<13>four"]);
    assert_eq!(recorded.streams.len(), 1);
    let stream = &recorded.streams[0];
    assert_eq!(stream.origin, format!("syslog-udp:{addr}"));
    assert_eq!(stream.kind, Some(SourceKind::Syslog));
    assert!(stream.finished, "stop finishes the stream");
    assert!(stream.batches.iter().all(|b| b.checkpoint.is_none()));
    let positions: Vec<u64> = stream.batches.iter().flat_map(|b| &b.lines).map(|l| l.position).collect();
    assert_eq!(positions, [7, 15, 25, 35], "running byte counts");
}

#[test]
fn an_oversized_datagram_is_a_bad_line() {
    let recorder = Recorder::new();
    let server = Server::udp(&recorder, SyslogNetOptions { max_message_bytes: 16, ..options() });
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.send_to(&[b'x'; 100], server.addr).unwrap();
    client.send_to(b"<13>fits", server.addr).unwrap();
    recorder.wait_until("the small message", |r| r.line_count() == 1);
    server.stop();
    let recorded = recorder.get();
    assert_eq!(recorded.texts(), ["<13>fits"]);
    let bad = recorded.bad();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].reason, "too_large");
}

#[test]
fn tcp_newline_framing_and_disconnect_finishes_the_stream() {
    let recorder = Recorder::new();
    let server = Server::tcp(&recorder, options());
    let mut client = TcpStream::connect(server.addr).unwrap();
    let client_addr = client.local_addr().unwrap();
    client.write_all(b"<13>one\n<13>two\r\n<13>thr").unwrap();
    client.flush().unwrap();
    recorder.wait_until("two messages", |r| r.line_count() == 2);
    client.write_all(b"ee\n<13>no newline before the close").unwrap();
    drop(client);
    recorder.wait_until("the stream finished", |r| r.finished() == 1);
    server.stop();
    let recorded = recorder.get();
    assert_eq!(recorded.texts(), ["<13>one", "<13>two", "<13>three", "<13>no newline before the close"]);
    assert_eq!(recorded.streams[0].origin, format!("syslog-tcp:{client_addr}"));
    assert_eq!(recorded.streams[0].kind, Some(SourceKind::Syslog));
}

#[test]
fn tcp_octet_counting_with_frames_split_across_reads() {
    let recorder = Recorder::new();
    let server = Server::tcp(&recorder, SyslogNetOptions { max_message_bytes: 64, ..options() });
    let mut client = TcpStream::connect(server.addr).unwrap();
    client.set_nodelay(true).unwrap();
    let mut oversized = b"100 ".to_vec();
    oversized.extend([b'y'; 100]);
    let pieces: [&[u8]; 6] =
        [b"1", b"9 <13>split fr", b"ame one", b"17 <13>second\nframe\n", &oversized, b"<13>lf after\n"];
    for piece in pieces {
        client.write_all(piece).unwrap();
        client.flush().unwrap();
        // Give the server a chance to read each piece on its own; not required.
        thread::sleep(Duration::from_millis(5));
    }
    recorder.wait_until("the last message", |r| r.texts().contains(&"<13>lf after".to_string()));
    drop(client);
    recorder.wait_until("the stream finished", |r| r.finished() == 1);
    server.stop();
    let recorded = recorder.get();
    assert_eq!(recorded.texts(), ["<13>split frame one", "<13>second\nframe", "<13>lf after"]);
    let bad = recorded.bad();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].reason, "too_large");
}

#[test]
fn connections_beyond_the_cap_are_refused() {
    let recorder = Recorder::new();
    let server = Server::tcp(&recorder, SyslogNetOptions { max_connections: 2, ..options() });
    let mut first = TcpStream::connect(server.addr).unwrap();
    let mut second = TcpStream::connect(server.addr).unwrap();
    first.write_all(b"<13>first\n").unwrap();
    second.write_all(b"<13>second\n").unwrap();
    recorder.wait_until("both connections served", |r| r.line_count() == 2);

    let mut third = TcpStream::connect(server.addr).unwrap();
    third.set_read_timeout(Some(tail_support::PATIENCE)).unwrap();
    let mut byte = [0u8; 1];
    match third.read(&mut byte) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("the third connection should be closed by the server, got {other:?}"),
    }
    assert_eq!(recorder.get().streams.len(), 2, "no stream for a refused connection");

    drop(first);
    recorder.wait_until("the first stream finished", |r| r.finished() == 1);
    let mut fourth = TcpStream::connect(server.addr).unwrap();
    fourth.write_all(b"<13>fourth\n").unwrap();
    recorder.wait_until("the fourth connection served", |r| r.line_count() == 3);
    drop(second);
    drop(fourth);
    server.stop();
}

#[test]
fn stop_finishes_open_connections() {
    let recorder = Recorder::new();
    let server = Server::tcp(&recorder, options());
    let mut client = TcpStream::connect(server.addr).unwrap();
    client.write_all(b"<13>held open\n").unwrap();
    recorder.wait_until("the message", |r| r.line_count() == 1);
    server.stop();
    assert_eq!(recorder.get().finished(), 1);
    drop(client);
}

#[test]
fn a_closed_pipeline_ends_the_tcp_server() {
    let recorder = Recorder::new();
    let server = Server::tcp(&recorder, options());
    let mut client = TcpStream::connect(server.addr).unwrap();
    client.write_all(b"<13>one\n").unwrap();
    recorder.wait_until("the message", |r| r.line_count() == 1);
    recorder.close();
    client.write_all(b"<13>two\n").unwrap();
    wait_for("the server to return", || server.handle.is_finished());
    assert!(server.handle.join().unwrap().is_ok());
}

#[test]
fn binding_a_busy_port_is_an_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let recorder = Recorder::new();
    let stop = AtomicBool::new(false);
    let result = run_syslog_tcp(taken.local_addr().unwrap(), &recorder, &stop, &options());
    assert!(matches!(result, Err(SourceError::Io { .. })), "{result:?}");
}
