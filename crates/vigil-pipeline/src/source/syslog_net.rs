//! Syslog received over the network: UDP datagrams and TCP connections (RFC 6587
//! framing). Blocking `std::net` sockets and threads; short read timeouts let every loop
//! notice `stop`. Messages go out as [`RawBatch`]es with kind `Syslog`; sockets cannot be
//! replayed, so batches carry no checkpoint, and positions are running byte counts.
//!
//! To learn the port when listening on port 0, bind the socket yourself and hand it to
//! [`serve_syslog_udp`] / [`serve_syslog_tcp`]; [`run_syslog_udp`] / [`run_syslog_tcp`]
//! bind `addr` and do the same.

mod framing;

use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use vigil_normalize::SourceKind;

use self::framing::Rfc6587Framer;
use super::file_tail::lines::{LineSplitter, PendingBatch};
use super::file_tail::SourceError;
use super::{BatchSink, RawBatch, SinkClosed, SinkFactory};

/// Limits and batching for the syslog sockets.
#[derive(Debug, Clone)]
pub struct SyslogNetOptions {
    /// Longer messages become a `too_large` bad line.
    pub max_message_bytes: usize,
    /// A batch is sent once it holds this many records…
    pub batch_max_lines: usize,
    /// …or this many bytes…
    pub batch_max_bytes: usize,
    /// …or its oldest record has waited this long.
    pub flush_interval: Duration,
    /// TCP: connections beyond this many are closed as soon as they are accepted.
    pub max_connections: usize,
    /// TCP: a connection silent this long is closed.
    pub idle_timeout: Duration,
    /// How often blocked reads and accepts wake up to look at `stop`.
    pub stop_check_interval: Duration,
}

impl Default for SyslogNetOptions {
    fn default() -> Self {
        SyslogNetOptions {
            max_message_bytes: 64 << 10,
            batch_max_lines: 500,
            batch_max_bytes: 256 << 10,
            flush_interval: Duration::from_millis(200),
            max_connections: 256,
            idle_timeout: Duration::from_secs(300),
            stop_check_interval: Duration::from_millis(100),
        }
    }
}

impl SyslogNetOptions {
    fn validate(&self) -> Result<(), SourceError> {
        let positive = [
            ("max_message_bytes", self.max_message_bytes),
            ("batch_max_lines", self.batch_max_lines),
            ("batch_max_bytes", self.batch_max_bytes),
            ("max_connections", self.max_connections),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, value)| *value == 0) {
            return Err(SourceError::Config(format!("{name} must be at least 1")));
        }
        Ok(())
    }

    /// How long one blocking read or accept may wait: never zero (a zero timeout means
    /// "block forever" to `std::net`).
    fn tick(&self) -> Duration {
        self.stop_check_interval.min(self.flush_interval).max(Duration::from_millis(1))
    }
}

/// The largest UDP payload.
const MAX_DATAGRAM: usize = 65_535;

/// Binds `addr` and serves it with [`serve_syslog_udp`].
pub fn run_syslog_udp(
    addr: SocketAddr,
    factory: &dyn SinkFactory,
    stop: &AtomicBool,
    opts: &SyslogNetOptions,
) -> Result<(), SourceError> {
    let socket = UdpSocket::bind(addr).map_err(|e| io_error(format!("cannot bind udp {addr}"), e))?;
    serve_syslog_udp(socket, factory, stop, opts)
}

/// Receives syslog datagrams on `socket` until `stop` is set or the pipeline closes,
/// then sends what is pending, finishes the stream and returns `Ok`.
///
/// The whole socket is one stream, origin `syslog-udp:<local addr>`. Each datagram is
/// one message; a datagram holding several LF-separated lines gives several records (a
/// CR before the LF and a final LF are dropped, empty lines skipped).
pub fn serve_syslog_udp(
    socket: UdpSocket,
    factory: &dyn SinkFactory,
    stop: &AtomicBool,
    opts: &SyslogNetOptions,
) -> Result<(), SourceError> {
    opts.validate()?;
    let local = socket.local_addr().map_err(|e| io_error("cannot read the udp socket's address".into(), e))?;
    socket.set_read_timeout(Some(opts.tick())).map_err(|e| io_error(format!("cannot configure udp {local}"), e))?;
    let mut stream = NetStream::open(factory, &format!("syslog-udp:{local}"), opts);
    let mut splitter = LineSplitter::new(0, opts.max_message_bytes);
    let mut datagram = vec![0u8; MAX_DATAGRAM];
    let outcome = loop {
        if stop.load(Ordering::Acquire) {
            break Ok(());
        }
        match socket.recv_from(&mut datagram) {
            Ok((len, _sender)) => {
                if let Err(closed) = stream.take_datagram(&mut splitter, &datagram[..len]) {
                    break Err(StreamEnd::Closed(closed));
                }
            }
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            // An ICMP error from an earlier send shows up here on some systems: harmless.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            Err(e) => break Err(StreamEnd::Failed(io_error(format!("cannot receive on udp {local}"), e))),
        }
        if let Err(closed) = stream.send_if_due() {
            break Err(StreamEnd::Closed(closed));
        }
    };
    let _ = stream.end();
    match outcome {
        Ok(()) | Err(StreamEnd::Closed(SinkClosed)) => Ok(()),
        Err(StreamEnd::Failed(e)) => Err(e),
    }
}

enum StreamEnd {
    Closed(SinkClosed),
    Failed(SourceError),
}

/// Binds `addr` and serves it with [`serve_syslog_tcp`].
pub fn run_syslog_tcp(
    addr: SocketAddr,
    factory: &dyn SinkFactory,
    stop: &AtomicBool,
    opts: &SyslogNetOptions,
) -> Result<(), SourceError> {
    let listener = TcpListener::bind(addr).map_err(|e| io_error(format!("cannot bind tcp {addr}"), e))?;
    serve_syslog_tcp(listener, factory, stop, opts)
}

/// Accepts syslog connections on `listener` until `stop` is set or the pipeline closes;
/// returns once every connection has sent what it had and finished its stream.
///
/// Each connection is a stream, origin `syslog-tcp:<peer addr>`, served by its own
/// thread; beyond `max_connections` at once, new connections are closed on accept.
/// Framing is RFC 6587 (octet counting or LF), decided per message. The stream is
/// finished when the peer disconnects, after `idle_timeout` of silence, or at stop.
pub fn serve_syslog_tcp(
    listener: TcpListener,
    factory: &dyn SinkFactory,
    stop: &AtomicBool,
    opts: &SyslogNetOptions,
) -> Result<(), SourceError> {
    opts.validate()?;
    let local = listener.local_addr().map_err(|e| io_error("cannot read the tcp listener's address".into(), e))?;
    listener.set_nonblocking(true).map_err(|e| io_error(format!("cannot configure tcp {local}"), e))?;
    let active = AtomicUsize::new(0);
    // Set when the pipeline closed a sink, or accepting failed: every connection ends.
    let closing = AtomicBool::new(false);
    let tick = opts.tick().min(Duration::from_millis(50));
    thread::scope(|scope| {
        let result = loop {
            if stop.load(Ordering::Acquire) || closing.load(Ordering::Acquire) {
                break Ok(());
            }
            let (connection, peer) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    thread::sleep(tick);
                    continue;
                }
                // The peer gave up before the accept, or the process is out of file
                // descriptors for a moment: keep listening.
                Err(e) if is_transient_accept_error(&e) => {
                    thread::sleep(tick);
                    continue;
                }
                Err(e) => break Err(io_error(format!("cannot accept on tcp {local}"), e)),
            };
            if active.load(Ordering::Acquire) >= opts.max_connections {
                drop(connection);
                continue;
            }
            let slot = ConnectionSlot::take(&active);
            let closing = &closing;
            // If the thread cannot be spawned, the closure (connection and slot) is dropped.
            let _ = thread::Builder::new().name(format!("syslog-tcp {peer}")).spawn_scoped(scope, move || {
                serve_connection(connection, slot, peer, factory, stop, closing, opts);
            });
        };
        closing.store(true, Ordering::Release);
        result
    })
}

/// One of the `max_connections` places, given back when dropped (even on a panic).
struct ConnectionSlot<'a>(&'a AtomicUsize);

impl<'a> ConnectionSlot<'a> {
    fn take(active: &'a AtomicUsize) -> Self {
        active.fetch_add(1, Ordering::AcqRel);
        ConnectionSlot(active)
    }
}

impl Drop for ConnectionSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn serve_connection(
    mut connection: TcpStream,
    slot: ConnectionSlot<'_>,
    peer: SocketAddr,
    factory: &dyn SinkFactory,
    stop: &AtomicBool,
    closing: &AtomicBool,
    opts: &SyslogNetOptions,
) {
    // Accepted sockets inherit non-blocking mode from the listener on some systems.
    if connection.set_nonblocking(false).is_err() || connection.set_read_timeout(Some(opts.tick())).is_err() {
        return;
    }
    let mut stream = NetStream::open(factory, &format!("syslog-tcp:{peer}"), opts);
    let mut framer = Rfc6587Framer::new(opts.max_message_bytes);
    let mut buf = vec![0u8; 16 << 10];
    let mut last_data = Instant::now();
    let ended = loop {
        if stop.load(Ordering::Acquire) || closing.load(Ordering::Acquire) {
            break Ok(());
        }
        match connection.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                last_data = Instant::now();
                if let Err(closed) = stream.take_framed(&mut framer, &buf[..n]) {
                    break Err(closed);
                }
            }
            Err(e) if is_timeout(&e) => {
                if last_data.elapsed() >= opts.idle_timeout {
                    break Ok(());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break Ok(()),
        }
        if let Err(closed) = stream.send_if_due() {
            break Err(closed);
        }
    };
    // The socket's place is free before the stream ends, so that a sender that saw its
    // stream finished can always connect again.
    drop(connection);
    drop(slot);
    framer.end_of_stream(&mut stream.batch);
    if ended.is_err() || stream.end().is_err() {
        closing.store(true, Ordering::Release);
    }
}

/// One socket stream: its sink and pending batch.
struct NetStream {
    sink: Box<dyn BatchSink>,
    batch: PendingBatch,
    flush_interval: Duration,
}

impl NetStream {
    fn open(factory: &dyn SinkFactory, origin: &str, opts: &SyslogNetOptions) -> Self {
        NetStream {
            sink: factory.open(origin, Some(SourceKind::Syslog)),
            batch: PendingBatch::new(opts.batch_max_lines, opts.batch_max_bytes),
            flush_interval: opts.flush_interval,
        }
    }

    /// One datagram: its lines, and its last line even without an LF.
    fn take_datagram(&mut self, splitter: &mut LineSplitter, mut datagram: &[u8]) -> Result<(), SinkClosed> {
        while !datagram.is_empty() {
            let used = splitter.feed(datagram, &mut self.batch, false);
            datagram = &datagram[used..];
            self.send_if_full()?;
        }
        splitter.end_of_stream(&mut self.batch);
        self.send_if_full()
    }

    fn take_framed(&mut self, framer: &mut Rfc6587Framer, mut data: &[u8]) -> Result<(), SinkClosed> {
        while !data.is_empty() {
            let used = framer.feed(data, &mut self.batch);
            data = &data[used..];
            self.send_if_full()?;
        }
        Ok(())
    }

    fn send_if_full(&mut self) -> Result<(), SinkClosed> {
        if self.batch.is_full() {
            self.send()?;
        }
        Ok(())
    }

    fn send_if_due(&mut self) -> Result<(), SinkClosed> {
        if self.batch.is_due(Instant::now(), self.flush_interval) {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> Result<(), SinkClosed> {
        let batch: RawBatch = self.batch.take(None);
        self.sink.send(batch)
    }

    /// Sends what is pending and finishes the stream.
    fn end(&mut self) -> Result<(), SinkClosed> {
        if !self.batch.is_empty() {
            self.send()?;
        }
        self.sink.finish()
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::Interrupted)
        || (cfg!(unix) && e.raw_os_error().is_some_and(|code| code == 24 || code == 23))
    // EMFILE, ENFILE
}

fn io_error(what: String, source: io::Error) -> SourceError {
    SourceError::Io { what, source }
}
