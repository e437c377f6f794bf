//! Cowrie's JSON log (`var/log/cowrie/cowrie.json`): one object per line, keyed by
//! `eventid`, the session's fields after the event's own.

use crate::clock;
use crate::json::Obj;
use crate::world::Sensor;

/// One attacker connection to the honeypot.
pub(crate) struct Session<'a> {
    pub sensor: &'a Sensor,
    pub src_ip: String,
    pub src_port: u16,
    pub id: String,
}

impl Session<'_> {
    fn tail(&self, o: Obj, message: &str, ms: i64, sub_ns: u32) -> String {
        o.str("message", message)
            .str("sensor", &self.sensor.name)
            .str("uuid", &self.sensor.uuid)
            .str("timestamp", &clock::rfc3339_micros(ms, sub_ns))
            .str("src_ip", &self.src_ip)
            .str("session", &self.id)
            .str("protocol", "ssh")
            .finish()
    }

    pub(crate) fn connect(&self, ms: i64, sub_ns: u32) -> String {
        Obj::new()
            .str("eventid", "cowrie.session.connect")
            .str("src_ip", &self.src_ip)
            .num("src_port", self.src_port as i64)
            .str("dst_ip", &self.sensor.ip)
            .num("dst_port", 2222)
            .str("session", &self.id)
            .str("protocol", "ssh")
            .str(
                "message",
                &format!(
                    "New connection: {}:{} ({}:2222) [session: {}]",
                    self.src_ip, self.src_port, self.sensor.ip, self.id
                ),
            )
            .str("sensor", &self.sensor.name)
            .str("uuid", &self.sensor.uuid)
            .str("timestamp", &clock::rfc3339_micros(ms, sub_ns))
            .finish()
    }

    pub(crate) fn client_version(&self, ms: i64, sub_ns: u32, version: &str) -> String {
        let o = Obj::new().str("eventid", "cowrie.client.version").str("version", version);
        self.tail(o, &format!("Remote SSH version: {version}"), ms, sub_ns)
    }

    pub(crate) fn client_kex(&self, ms: i64, sub_ns: u32, hassh: &str, algorithms: &str) -> String {
        let o = Obj::new().str("eventid", "cowrie.client.kex").str("hassh", hassh).str("hasshAlgorithms", algorithms);
        self.tail(o, &format!("SSH client hassh fingerprint: {hassh}"), ms, sub_ns)
    }

    pub(crate) fn login(&self, ms: i64, sub_ns: u32, user: &str, password: &str, success: bool) -> String {
        let (eventid, outcome) =
            if success { ("cowrie.login.success", "succeeded") } else { ("cowrie.login.failed", "failed") };
        let o = Obj::new().str("eventid", eventid).str("username", user).str("password", password);
        self.tail(o, &format!("login attempt [{user}/{password}] {outcome}"), ms, sub_ns)
    }

    pub(crate) fn session_params(&self, ms: i64, sub_ns: u32, arch: &str) -> String {
        // `message` really is an empty list in this event.
        let o = Obj::new().str("eventid", "cowrie.session.params").str("arch", arch);
        o.raw("message", "[]")
            .str("sensor", &self.sensor.name)
            .str("uuid", &self.sensor.uuid)
            .str("timestamp", &clock::rfc3339_micros(ms, sub_ns))
            .str("src_ip", &self.src_ip)
            .str("session", &self.id)
            .str("protocol", "ssh")
            .finish()
    }

    pub(crate) fn command(&self, ms: i64, sub_ns: u32, input: &str) -> String {
        let o = Obj::new().str("eventid", "cowrie.command.input").str("input", input);
        self.tail(o, &format!("CMD: {input}"), ms, sub_ns)
    }

    pub(crate) fn file_download(&self, ms: i64, sub_ns: u32, url: &str, shasum: &str, destfile: &str) -> String {
        let outfile = format!("var/lib/cowrie/downloads/{shasum}");
        let o = Obj::new()
            .str("eventid", "cowrie.session.file_download")
            .str("url", url)
            .str("outfile", &outfile)
            .str("shasum", shasum)
            .str("destfile", destfile);
        self.tail(o, &format!("Downloaded URL ({url}) with SHA-256 {shasum} to {outfile}"), ms, sub_ns)
    }

    pub(crate) fn closed(&self, ms: i64, sub_ns: u32, duration_ms: i64) -> String {
        let duration = format!("{:.1}", duration_ms as f64 / 1000.0);
        let o = Obj::new().str("eventid", "cowrie.session.closed").str("duration", &duration);
        self.tail(o, &format!("Connection lost after {duration} seconds"), ms, sub_ns)
    }
}
