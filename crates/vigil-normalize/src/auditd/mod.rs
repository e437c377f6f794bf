//! Linux audit (auditd) logs: raw `audit.log` lines, the ENRICHED format, `node=`
//! prefixes, and records wrapped in a JSON envelope (Microsoft Sentinel's Syslog table
//! `SyslogMessage` with auoms records, Filebeat / Logstash `message`).
//!
//! The kernel writes one event as several records sharing `audit(SECS.MS:SERIAL)`
//! (SYSCALL, EXECVE, CWD, PATH…, PROCTITLE, then EOE). They are joined into one event:
//! records are held back until EOE, until a record of another event stamped
//! [`LINGER_SECS`] or more later arrives (the kernel writes an event's records together,
//! so by then it is complete), until more than [`MAX_PENDING`] events are open (the
//! oldest goes first), or until `flush`. User-space messages (USER_*, CRED_*,
//! ADD_USER…, AUOMS_*) are events of one record and go out at once.
//!
//! The Sigma view keeps auditd's own field names, as SigmaHQ's auditd rules read them:
//! `type` lists every record type of the event, and each record's fields are there
//! (`a0`… from EXECVE, `name` from PATH, `exe` / `comm` / `key` / `syscall` from
//! SYSCALL), a field appearing in several records with different values becoming a
//! list. See `docs/sources/auditd.md`.

mod record;
mod syscalls;

use std::borrow::Cow;
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Deserialize;
use serde_json::{Map, Value};
use vigil_event::{LogSource, Timestamp};

use crate::doc::Doc;
use crate::ocsf::{self, activity, Class};
use crate::{DeadLetterReason, DecodeError, Decoder, Normalized, RawRecord, SourceKind};

use record::{Record, Val};

/// Seconds of event time after which an open event counts as complete.
pub(crate) const LINGER_SECS: i64 = 2;
/// Open events kept at most; beyond, the oldest is emitted.
pub(crate) const MAX_PENDING: usize = 64;
/// Records joined into one event at most (a huge EXECVE argument list); beyond, the
/// event is emitted and a new one starts.
const MAX_EVENT_RECORDS: usize = 1024;
/// Bytes of records joined into one event at most (the kernel caps a command line at
/// ARG_MAX, 2 MiB by default); bounds what 64 open events can hold.
const MAX_EVENT_BYTES: usize = 2 * 1024 * 1024;
/// Longest record decoded (the kernel's MAX_AUDIT_MESSAGE_LENGTH is 8970 bytes).
const MAX_RECORD: usize = 1024 * 1024;
/// Values kept per Sigma field when several records carry it.
const MAX_VALUES: usize = 64;

/// Whether `record` is auditd: a `type=` / `node=` line, or a JSON object whose message
/// is one (`"SyslogMessage":"type=AUOMS_EXECVE audit(…`).
pub(crate) fn looks_like(record: &str) -> bool {
    let b = record.as_bytes();
    let head = &b[..b.len().min(512)];
    if b.first() == Some(&b'{') {
        return memchr::memmem::find(b, b"\"type=").is_some() && memchr::memmem::find(b, b"audit(").is_some();
    }
    (b.starts_with(b"type=") || (b.starts_with(b"node=") && memchr::memmem::find(head, b" type=").is_some()))
        && memchr::memmem::find(head, b"audit(").is_some()
}

/// An event whose records are still arriving.
struct Pending {
    records: Vec<Record>,
    /// The record texts as they arrived (JSON documents for wrapped records).
    raw: Vec<String>,
    json: bool,
    /// Bytes of the records' lines.
    bytes: usize,
}

impl Pending {
    fn matches(&self, r: &Record) -> bool {
        self.records.first().is_some_and(|f| f.serial == r.serial && f.stamp() == r.stamp() && f.node() == r.node())
    }
}

#[derive(Default)]
pub(crate) struct AuditdDecoder {
    /// Open events, oldest first.
    pending: VecDeque<Pending>,
}

/// The JSON envelopes auditd records arrive in.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, rename = "SyslogMessage")]
    syslog_message: Option<Cow<'a, str>>,
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "Computer")]
    computer: Option<Cow<'a, str>>,
}

impl Decoder for AuditdDecoder {
    fn kind(&self) -> SourceKind {
        SourceKind::Auditd
    }

    fn decode(&mut self, record: &str, out: &mut Vec<Normalized>) -> Result<(), DecodeError> {
        if record.len() > MAX_RECORD {
            return Err(DecodeError::new(
                DeadLetterReason::TooLarge,
                format!("auditd record of {} bytes exceeds {MAX_RECORD}", record.len()),
            ));
        }
        let trimmed = record.trim();
        if trimmed.starts_with('{') {
            let env: Envelope<'_> = serde_json::from_str(trimmed).map_err(|e| DecodeError::invalid_json(&e))?;
            let text = env.syslog_message.or(env.message).ok_or_else(|| {
                DecodeError::new(
                    DeadLetterReason::MissingField,
                    "JSON-wrapped auditd record has no `SyslogMessage` or `message` string",
                )
            })?;
            let mut rec = record::parse(&text)?;
            if rec.node.is_none() {
                if let Some(host) = env.computer.filter(|c| !c.is_empty()) {
                    // Keep the host the envelope names as the node.
                    let start = rec.line.len() + 1;
                    rec.line.push(' ');
                    rec.line.push_str(&host);
                    rec.node = Some(start..rec.line.len());
                }
            }
            self.add(rec, trimmed.to_owned(), true, out);
            return Ok(());
        }
        // One line per record; a block of lines (a paste of audit.log) is taken
        // line by line, the first error reported after the good lines are in.
        let mut first_error = None;
        for line in trimmed.lines().map(str::trim).filter(|l| !l.is_empty()) {
            match record::parse(line) {
                Ok(rec) => self.add(rec, line.to_owned(), false, out),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None if trimmed.is_empty() => Err(DecodeError::new(DeadLetterReason::Malformed, "empty auditd record")),
            None => Ok(()),
        }
    }

    fn flush(&mut self, out: &mut Vec<Normalized>) {
        while let Some(p) = self.pending.pop_front() {
            out.push(build(p));
        }
    }
}

/// Record types that are whole events by themselves (user-space messages).
fn standalone(rtype: &str) -> bool {
    ["USER_", "CRED_", "DAEMON_", "GRP_", "ACCT_", "AUOMS_", "SYSTEM_", "ANOM_LOGIN", "ROLE_"]
        .iter()
        .any(|p| rtype.starts_with(p))
        || matches!(
            rtype,
            "ADD_USER"
                | "DEL_USER"
                | "ADD_GROUP"
                | "DEL_GROUP"
                | "SERVICE_START"
                | "SERVICE_STOP"
                | "CHGRP_ID"
                | "CHUSER_ID"
        )
}

impl AuditdDecoder {
    fn add(&mut self, rec: Record, raw: String, json: bool, out: &mut Vec<Normalized>) {
        let now = rec.secs;
        let open = self.pending.iter().rposition(|p| p.matches(&rec));
        if rec.rtype() == "EOE" {
            // End of event: what is open for this id is complete (a stray EOE is dropped).
            if let Some(p) = open.and_then(|i| self.pending.remove(i)) {
                out.push(build(p));
            }
        } else if open.is_none() && standalone(rec.rtype()) {
            out.push(build(Pending { bytes: rec.line.len(), records: vec![rec], raw: vec![raw], json }));
        } else {
            match open {
                Some(i)
                    if self.pending[i].records.len() < MAX_EVENT_RECORDS
                        && self.pending[i].bytes + rec.line.len() <= MAX_EVENT_BYTES =>
                {
                    let p = &mut self.pending[i];
                    p.bytes += rec.line.len();
                    p.records.push(rec);
                    p.raw.push(raw);
                    p.json |= json;
                }
                _ => {
                    if let Some(p) = open.and_then(|i| self.pending.remove(i)) {
                        out.push(build(p));
                    }
                    self.pending.push_back(Pending { bytes: rec.line.len(), records: vec![rec], raw: vec![raw], json });
                    if self.pending.len() > MAX_PENDING {
                        if let Some(p) = self.pending.pop_front() {
                            out.push(build(p));
                        }
                    }
                }
            }
        }
        // Events that a record stamped well after them has followed.
        while let Some(i) = self
            .pending
            .iter()
            .position(|p| p.records.first().is_some_and(|f| f.secs.saturating_add(LINGER_SECS) <= now))
        {
            if let Some(p) = self.pending.remove(i) {
                out.push(build(p));
            }
        }
    }
}

/// Inserts `value` under `key`, turning the field into a list when a different value
/// is already there.
fn merge(sigma: &mut Map<String, Value>, key: &str, value: Value) {
    match sigma.get_mut(key) {
        None => {
            sigma.insert(key.to_owned(), value);
        }
        Some(existing) => {
            let new: Vec<Value> = match value {
                Value::Array(a) => a,
                v => vec![v],
            };
            if let Value::Array(list) = existing {
                for v in new {
                    if list.len() < MAX_VALUES && !list.contains(&v) {
                        list.push(v);
                    }
                }
            } else {
                let mut list = vec![existing.take()];
                for v in new {
                    if list.len() < MAX_VALUES && !list.contains(&v) {
                        list.push(v);
                    }
                }
                *existing = if list.len() == 1 { list.pop().unwrap_or(Value::Null) } else { Value::Array(list) };
            }
        }
    }
}

/// A `saddr=` socket address.
#[derive(Debug, Clone, PartialEq)]
enum SockAddr {
    Inet { ip: IpAddr, port: u16 },
    Unix(String),
    Other(u16),
}

/// Decodes the hex of a `struct sockaddr` (family in host byte order, port and address
/// in network order): AF_INET 2, AF_INET6 10, AF_UNIX 1.
fn sockaddr(hex: &str) -> Option<SockAddr> {
    let b = record::unhex(hex)?;
    let (&f0, &f1) = (b.first()?, b.get(1)?);
    // Little-endian hosts write the family low byte first; big-endian ones high first.
    let family = if f0 == 0 && f1 != 0 { u16::from(f1) } else { u16::from_le_bytes([f0, f1]) };
    let port = || b.get(2..4).map(|p| u16::from_be_bytes([p[0], p[1]]));
    match family {
        2 => {
            let a = b.get(4..8)?;
            Some(SockAddr::Inet { ip: IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])), port: port()? })
        }
        10 => {
            let a: [u8; 16] = b.get(8..24)?.try_into().ok()?;
            Some(SockAddr::Inet { ip: IpAddr::V6(Ipv6Addr::from(a)), port: port()? })
        }
        1 => {
            let path = b.get(2..).unwrap_or_default();
            // An abstract socket starts with NUL; `ss` shows it as `@name`.
            let (prefix, path) = match path.split_first() {
                Some((0, rest)) => ("@", rest),
                _ => ("", path),
            };
            let end = path.iter().position(|c| *c == 0).unwrap_or(path.len());
            Some(SockAddr::Unix(format!("{prefix}{}", String::from_utf8_lossy(&path[..end]))))
        }
        f => Some(SockAddr::Other(f)),
    }
}

/// auditd's record-type → (class, activity) for events without a syscall.
fn user_space_class(rtype: &str) -> Option<(Class, u8)> {
    Some(match rtype {
        "USER_AUTH" | "USER_ACCT" | "USER_LOGIN" | "USER_START" | "USER_ERR" | "CRED_ACQ" | "CRED_REFR" | "LOGIN" => {
            (Class::Authentication, activity::AUTH_LOGON)
        }
        "USER_END" | "USER_LOGOUT" | "CRED_DISP" => (Class::Authentication, activity::AUTH_LOGOFF),
        "ADD_USER" => (Class::AccountChange, activity::ACCOUNT_CREATE),
        "DEL_USER" => (Class::AccountChange, activity::ACCOUNT_DELETE),
        "USER_CHAUTHTOK" => (Class::AccountChange, activity::ACCOUNT_PASSWORD_CHANGE),
        "ACCT_LOCK" => (Class::AccountChange, 9),
        "ACCT_UNLOCK" => (Class::AccountChange, activity::ACCOUNT_ENABLE),
        "ADD_GROUP" | "DEL_GROUP" | "GRP_MGMT" | "USER_MGMT" | "GRP_CHAUTHTOK" => {
            (Class::AccountChange, activity::OTHER)
        }
        _ => return None,
    })
}

/// File syscalls → File System Activity activity.
fn file_activity(syscall: &str) -> Option<u8> {
    Some(match syscall {
        "open" | "openat" | "openat2" | "open_by_handle_at" | "name_to_handle_at" => activity::FILE_OPEN,
        "creat" | "mkdir" | "mkdirat" | "mknod" | "mknodat" | "link" | "linkat" | "symlink" | "symlinkat" => {
            activity::FILE_CREATE
        }
        "unlink" | "unlinkat" | "rmdir" => activity::FILE_DELETE,
        "rename" | "renameat" | "renameat2" => activity::FILE_RENAME,
        "truncate" | "ftruncate" => activity::FILE_UPDATE,
        "chmod" | "fchmod" | "fchmodat" | "fchmodat2" | "chown" | "fchown" | "fchownat" | "lchown" | "setxattr"
        | "lsetxattr" | "fsetxattr" | "removexattr" | "lremovexattr" | "fremovexattr" | "utime" | "utimes"
        | "utimensat" | "futimesat" => activity::FILE_SET_ATTRIBUTES,
        "mount" | "fsmount" | "move_mount" => 12,
        "umount" | "umount2" => 13,
        _ => return None,
    })
}

/// An unset login uid (`auid=4294967295`, or `unset` when interpreted).
fn is_unset(v: &str) -> bool {
    v == "4294967295" || v == "-1" || v == "unset" || v == "?" || v.is_empty()
}

fn known(v: Option<&str>) -> Option<&str> {
    v.filter(|v| !matches!(*v, "?" | "(null)" | "(none)" | ""))
}

/// The event's records, as the mapping reads them.
struct View<'a> {
    records: &'a [Record],
}

impl<'a> View<'a> {
    fn first(&self, rtype: &str) -> Option<&'a Record> {
        self.records.iter().find(|r| r.rtype() == rtype)
    }

    /// The first raw value of `key` in any record.
    fn any(&self, key: &str) -> Option<&'a str> {
        self.records.iter().find_map(|r| r.get(key))
    }

    fn any_enriched(&self, key: &str) -> Option<&'a str> {
        self.records.iter().find_map(|r| r.enriched(key))
    }

    /// EXECVE arguments in order, reassembled from `aN` and split `aN[k]` parts.
    fn args(&self) -> Vec<String> {
        let mut args: Vec<(usize, String)> = Vec::new();
        for r in self.records.iter().filter(|r| r.rtype() == "EXECVE") {
            for f in &r.fields {
                let key = r.key(f);
                let Some(rest) = key.strip_prefix('a') else { continue };
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                let Ok(n) = rest[..digits].parse::<usize>() else { continue };
                let tail = &rest[digits..];
                let part = r.text(f);
                if tail.is_empty() {
                    args.push((n, part.to_owned()));
                } else if tail.starts_with('[') {
                    match args.iter_mut().find(|(i, _)| *i == n) {
                        Some((_, arg)) => arg.push_str(part),
                        None => args.push((n, part.to_owned())),
                    }
                }
            }
        }
        args.sort_by_key(|(n, _)| *n);
        // `argc` says how many there are; anything past it is not an argument.
        let argc = self.any("argc").and_then(|a| a.parse::<usize>().ok()).unwrap_or(usize::MAX);
        args.into_iter().filter(|(n, _)| *n < argc).map(|(_, a)| a).collect()
    }
}

fn build(p: Pending) -> Normalized {
    let view = View { records: &p.records };
    let first = p.records.first();
    let time: Option<Timestamp> = first.and_then(|r| chrono::DateTime::from_timestamp(r.secs, r.nanos));
    let mut types: Vec<&str> = Vec::new();
    for r in &p.records {
        if !types.contains(&r.rtype()) {
            types.push(r.rtype());
        }
    }
    let syscall_rec = view
        .first("SYSCALL")
        .or_else(|| p.records.iter().find(|r| r.rtype().starts_with("AUOMS_") && r.get("syscall").is_some()));
    let primary = syscall_rec.or(first);
    let arch = syscall_rec.and_then(|r| r.get("arch"));
    let syscall_name: Option<&str> = syscall_rec.and_then(|r| {
        r.enriched("SYSCALL").or_else(|| {
            let s = r.get("syscall")?;
            match s.parse::<u64>() {
                Ok(n) => syscalls::name(arch?, n),
                Err(_) => Some(s),
            }
        })
    });
    let has_execve = view.first("EXECVE").is_some();
    let args = view.args();
    let auoms = p.records.iter().find(|r| r.rtype().starts_with("AUOMS_"));
    let command_line: Option<String> = if !args.is_empty() {
        Some(args.join(" "))
    } else {
        auoms.and_then(|r| known(r.get("cmdline"))).or_else(|| known(view.any("proctitle"))).map(str::to_owned)
    };
    let exe = known(syscall_rec.and_then(|r| r.get("exe")));
    let cwd = known(view.first("CWD").and_then(|r| r.get("cwd")).or_else(|| auoms.and_then(|r| r.get("cwd"))));
    let pid = syscall_rec.or(first).and_then(|r| r.get("pid")).and_then(|v| v.parse::<u64>().ok());
    let ppid = syscall_rec.and_then(|r| r.get("ppid")).and_then(|v| v.parse::<u64>().ok());
    let uid = primary.and_then(|r| r.get("uid")).filter(|u| !is_unset(u));
    let uid_name = primary.and_then(|r| r.enriched("UID").or_else(|| r.get("user"))).filter(|u| !is_unset(u));
    let auid = primary.and_then(|r| r.get("auid")).filter(|u| !is_unset(u));
    let auid_name = primary.and_then(|r| r.enriched("AUID").or_else(|| r.get("audit_user"))).filter(|u| !is_unset(u));
    let success = syscall_rec.and_then(|r| r.get("success")).map(|s| s == "yes");
    let exit = syscall_rec.and_then(|r| r.get("exit"));

    // File names of the event: PATH records (auoms: `path_name` list), the parents of a
    // create / delete left out; relative names resolved against the CWD.
    let mut paths: Vec<(String, &str)> = Vec::new();
    for r in p.records.iter().filter(|r| r.rtype() == "PATH") {
        let Some(name) = known(r.get("name")) else { continue };
        let nametype = r.get("nametype").unwrap_or("");
        if nametype == "PARENT" {
            continue;
        }
        let full = match cwd {
            Some(dir) if !name.starts_with('/') => {
                format!("{}/{}", dir.trim_end_matches('/'), name.trim_start_matches("./"))
            }
            _ => name.to_owned(),
        };
        paths.push((full, nametype));
    }
    let sock = view.first("SOCKADDR").and_then(|r| r.get("saddr")).and_then(sockaddr);

    // What the event is.
    let mut category: Option<&str> = None;
    let (class, act) = if let Some(name) = syscall_name.filter(|_| syscall_rec.is_some()) {
        let launched = success != Some(false);
        if matches!(name, "execve" | "execveat") || has_execve {
            if launched {
                category = Some("process_creation");
            }
            (Class::ProcessActivity, activity::PROCESS_LAUNCH)
        } else if matches!(name, "connect" | "sendto" | "sendmsg" | "sendmmsg" | "accept" | "accept4") && sock.is_some()
        {
            // A non-blocking connect reports EINPROGRESS (-115): under way, not failed.
            if matches!(sock, Some(SockAddr::Inet { .. })) && (launched || exit == Some("-115")) {
                category = Some("network_connection");
            }
            let act = if name.starts_with("send") { activity::NETWORK_TRAFFIC } else { activity::NETWORK_OPEN };
            (Class::NetworkActivity, act)
        } else if let Some(act) = file_activity(name).filter(|_| !paths.is_empty()) {
            let creates = paths.iter().any(|(_, t)| *t == "CREATE");
            let act = if act == activity::FILE_OPEN && creates { activity::FILE_CREATE } else { act };
            if creates && launched {
                category = Some("file_event");
            }
            (Class::FileSystemActivity, act)
        } else {
            (Class::Base, 0)
        }
    } else if let Some(found) = p.records.iter().find_map(|r| user_space_class(r.rtype())) {
        found
    } else {
        (Class::Base, 0)
    };

    let mut e = ocsf::base(class, act, time, "auditd");
    ocsf::set(&mut e, "metadata.product.vendor_name", "Linux");
    if let Some(f) = first {
        ocsf::set(&mut e, "metadata.uid", format!("{}:{}", f.stamp(), f.serial));
    }
    if let Some(r) = primary {
        ocsf::set(&mut e, "metadata.event_code", r.rtype());
    }
    let node = first.and_then(Record::node);
    if let Some(node) = node {
        ocsf::set(&mut e, "device.hostname", node);
    }
    let res = view.any("res");
    let status = match (class, success, res) {
        (Class::NetworkActivity, Some(false), _) if exit == Some("-115") => None,
        (_, Some(s), _) => Some(s),
        (_, None, Some(r)) => Some(matches!(r, "success" | "1" | "yes")),
        _ => None,
    };
    if let Some(s) = status {
        ocsf::set_status(&mut e, s);
    }
    let acct = known(view.any("acct")).or_else(|| known(view.any_enriched("ID"))).or_else(|| known(view.any("id")));
    let actor_user = user_value(auid_name, auid);
    let proc_user = user_value(uid_name, uid);
    let mut sigma = Map::new();
    let mut unmapped = Map::new();
    let process_value = |path: Option<&str>, cmd: Option<&str>| {
        let mut v = ocsf::Process { pid, path, cmd_line: cmd, cwd, ..Default::default() }.to_value();
        if let Value::Object(m) = &mut v {
            if let Some(u) = proc_user.clone() {
                m.insert("user".into(), u);
            }
            if let Some(ppid) = ppid {
                m.insert("parent_process".into(), serde_json::json!({ "pid": ppid }));
            }
        }
        v
    };
    match class {
        Class::ProcessActivity => {
            ocsf::set(&mut e, "process", process_value(exe, command_line.as_deref()));
            if let Some(ppid) = ppid {
                ocsf::set(&mut e, "actor.process.pid", ppid);
            }
            set_opt(&mut e, "actor.user", actor_user);
        }
        Class::FileSystemActivity => {
            ocsf::set(&mut e, "actor.process", process_value(exe, command_line.as_deref()));
            set_opt(&mut e, "actor.user", actor_user);
            let deleted = paths.iter().find(|(_, t)| *t == "DELETE");
            let created = paths.iter().find(|(_, t)| *t == "CREATE");
            let (file, result) = match (act, deleted, created) {
                (activity::FILE_RENAME, Some(d), Some(c)) => (Some(d), Some(c)),
                _ => (paths.first(), None),
            };
            if let Some((path, _)) = file {
                ocsf::set(&mut e, "file", serde_json::json!({ "path": path, "name": ocsf::basename(path) }));
            }
            if let Some((path, _)) = result {
                ocsf::set(&mut e, "file_result", serde_json::json!({ "path": path, "name": ocsf::basename(path) }));
            }
        }
        Class::NetworkActivity => {
            ocsf::set(&mut e, "actor.process", process_value(exe, command_line.as_deref()));
            set_opt(&mut e, "actor.user", actor_user);
            let outbound = !matches!(syscall_name, Some("accept" | "accept4"));
            match &sock {
                Some(SockAddr::Inet { ip, port }) => {
                    let side = if outbound { "dst_endpoint" } else { "src_endpoint" };
                    ocsf::set(&mut e, side, ocsf::endpoint(Some(&ip.to_string()), Some(u64::from(*port)), None));
                    ocsf::set(&mut e, "connection_info.direction_id", if outbound { 2 } else { 1 });
                    ocsf::set(&mut e, "connection_info.protocol_ver_id", if ip.is_ipv4() { 4 } else { 6 });
                    let (ip_key, port_key) =
                        if outbound { ("DestinationIp", "DestinationPort") } else { ("SourceIp", "SourcePort") };
                    sigma.insert(ip_key.into(), ip.to_string().into());
                    sigma.insert(port_key.into(), (*port).into());
                    sigma.insert("Initiated".into(), if outbound { "true" } else { "false" }.into());
                }
                Some(SockAddr::Unix(path)) => {
                    unmapped.insert("socket_path".into(), path.clone().into());
                }
                Some(SockAddr::Other(family)) => {
                    unmapped.insert("socket_family".into(), (*family).into());
                }
                None => {}
            }
        }
        Class::Authentication => {
            set_opt(&mut e, "user", user_value(acct, None));
            set_opt(&mut e, "actor.user", actor_user);
            let addr = known(view.any("addr")).filter(|a| a.parse::<IpAddr>().is_ok());
            let host = known(view.any("hostname")).filter(|h| Some(*h) != addr);
            if addr.is_some() || host.is_some() {
                ocsf::set(&mut e, "src_endpoint", ocsf::endpoint(addr, None, host));
            }
            if let Some(addr) = addr {
                sigma.insert("SourceIp".into(), addr.into());
                let local = addr.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
                ocsf::set(&mut e, "is_remote", !local);
            }
            let auth_exe = known(view.any("exe"));
            let mut actor_process = ocsf::Process { pid, path: auth_exe, ..Default::default() }.to_value();
            if let (Some(name), Value::Object(m)) = (auth_exe.map(ocsf::basename), &mut actor_process) {
                ocsf::set(&mut e, "service.name", name);
                m.insert("name".into(), name.into());
            }
            ocsf::set(&mut e, "actor.process", actor_process);
            if let Some(op) = known(view.any("op")) {
                unmapped.insert("op".into(), op.into());
            }
            if let Some(t) = known(view.any("terminal")) {
                unmapped.insert("terminal".into(), t.into());
            }
        }
        Class::AccountChange => {
            set_opt(&mut e, "user", user_value(acct, view.any("id").filter(|i| i.bytes().all(|b| b.is_ascii_digit()))));
            set_opt(&mut e, "actor.user", actor_user.or(proc_user.clone()));
            let exe = known(view.any("exe"));
            ocsf::set(&mut e, "actor.process", ocsf::Process { pid, path: exe, ..Default::default() }.to_value());
            if let Some(op) = known(view.any("op")) {
                unmapped.insert("op".into(), op.into());
            }
        }
        _ => {
            if let Some(exe) = exe {
                ocsf::set(&mut e, "actor.process", process_value(Some(exe), command_line.as_deref()));
            }
        }
    }
    ocsf::set(&mut e, "message", format!("auditd {} event", types.join("+")));

    // Taxonomy fields.
    let user = match class {
        Class::Authentication => acct,
        _ => uid_name.or(uid),
    };
    if let Some(u) = user {
        sigma.insert("User".into(), u.into());
    }
    if class == Class::AccountChange {
        if let Some(a) = acct {
            sigma.insert("TargetUser".into(), a.into());
        }
    }
    if let Some(exe) = exe.or_else(|| auoms.and_then(|r| known(r.get("exe")))) {
        sigma.insert("Image".into(), exe.into());
    }
    if let Some(cmd) = &command_line {
        sigma.insert("CommandLine".into(), cmd.clone().into());
    }
    if let Some(cwd) = cwd {
        sigma.insert("CurrentDirectory".into(), cwd.into());
    }
    if let Some(pid) = pid {
        sigma.insert("ProcessId".into(), pid.into());
    }
    if let Some(ppid) = ppid {
        sigma.insert("ParentProcessId".into(), ppid.into());
    }
    if class == Class::FileSystemActivity {
        let names: Vec<Value> = paths.iter().map(|(n, _)| Value::from(n.as_str())).collect();
        if let Some(v) = list_or_one(names) {
            sigma.insert("TargetFilename".into(), v);
        }
    }

    // auditd's own fields.
    sigma.insert("type".into(), list_or_one(types.iter().map(|t| Value::from(*t)).collect()).unwrap_or(Value::Null));
    for r in &p.records {
        let rtype = r.rtype();
        for f in &r.fields {
            let key = r.key(f);
            // SYSCALL's a0..a3 are register values; with an EXECVE record, `a0`… mean
            // the arguments, and the pointers would only blur them.
            if rtype == "SYSCALL" && has_execve && is_arg_key(key) {
                continue;
            }
            // Split EXECVE arguments (`a1_len`, `a1[0]`) are reassembled below.
            if rtype == "EXECVE" && (key.ends_with("_len") || key.contains('[')) {
                continue;
            }
            if rtype == "EXECVE" && is_arg_key(key) {
                continue;
            }
            let value = match &f.val {
                Val::List(l) => Value::Array(l.iter().map(|s| Value::from(s.as_str())).collect()),
                _ => Value::from(r.text(f)),
            };
            merge(&mut sigma, key, value);
        }
    }
    for (i, arg) in args.iter().enumerate() {
        merge(&mut sigma, &format!("a{i}"), Value::from(arg.as_str()));
    }
    if let Some(name) = syscall_name {
        if syscall_rec.is_some_and(|r| r.enriched("SYSCALL").is_none()) {
            // What auditd's ENRICHED format (and SigmaHQ rules: `SYSCALL: 'execve'`) call it.
            merge(&mut sigma, "SYSCALL", name.into());
        }
    }

    // OCSF leftovers.
    let mut audit = Map::new();
    audit.insert("types".into(), Value::Array(types.iter().map(|t| Value::from(*t)).collect()));
    if let Some(n) = syscall_name {
        audit.insert("syscall".into(), n.into());
    }
    for key in ["arch", "exit", "tty", "ses", "key", "comm"] {
        if let Some(v) = syscall_rec.and_then(|r| known(r.get(key))) {
            audit.insert(key.into(), v.into());
        }
    }
    if let Some(a) = auid {
        audit.insert("auid".into(), a.into());
    }
    unmapped.insert("auditd".into(), Value::Object(audit));
    e.insert("unmapped", Value::Object(unmapped));

    let logsource = LogSource::new(Some("linux"), category, Some("auditd"));
    let raw = if p.json && p.raw.len() == 1 {
        RawRecord::Json(p.raw.into_iter().next().unwrap_or_default())
    } else {
        RawRecord::Text(p.raw.join("\n"))
    };
    Normalized { source: SourceKind::Auditd, time, logsource, ocsf: e, sigma: sigma.into(), raw }
}

/// `a0`, `a1`… (not `a1_len`, `a1[0]`, `arch`, `addr`).
fn is_arg_key(key: &str) -> bool {
    key.strip_prefix('a').is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

fn list_or_one(mut values: Vec<Value>) -> Option<Value> {
    match values.len() {
        0 => None,
        1 => values.pop(),
        _ => Some(Value::Array(values)),
    }
}

fn user_value(name: Option<&str>, uid: Option<&str>) -> Option<Value> {
    if name.is_none() && uid.is_none() {
        return None;
    }
    let mut m = Map::new();
    if let Some(n) = name {
        m.insert("name".into(), n.into());
    }
    if let Some(u) = uid {
        m.insert("uid".into(), u.into());
    }
    Some(Value::Object(m))
}

fn set_opt(e: &mut Doc, path: &'static str, value: Option<Value>) {
    e.set(path, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(lines: &[&str]) -> Vec<Normalized> {
        let mut d = AuditdDecoder::default();
        let mut out = Vec::new();
        for l in lines {
            d.decode(l, &mut out).unwrap_or_else(|e| panic!("{l}: {e}"));
        }
        d.flush(&mut out);
        out
    }

    const EXEC: [&str; 6] = [
        r#"type=SYSCALL msg=audit(1604994496.155:92733): arch=c000003e syscall=59 success=yes exit=0 a0=558e251634a0 a1=558e25162a50 a2=558e25160800 a3=8 items=2 ppid=29002 pid=1631 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=104 comm="arp" exe="/usr/sbin/arp" key=(null)"#,
        r#"type=EXECVE msg=audit(1604994496.155:92733): argc=2 a0="arp" a1="-a""#,
        r#"type=CWD msg=audit(1604994496.155:92733): cwd="/home/wardog""#,
        r#"type=PATH msg=audit(1604994496.155:92733): item=0 name="/usr/sbin/arp" inode=13181 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL"#,
        r#"type=PATH msg=audit(1604994496.155:92733): item=1 name="/lib64/ld-linux-x86-64.so.2" inode=29514 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL"#,
        r#"type=PROCTITLE msg=audit(1604994496.155:92733): proctitle=617270002D61"#,
    ];

    #[test]
    fn sniff() {
        assert!(looks_like(EXEC[0]));
        assert!(looks_like("node=h1 type=EOE msg=audit(1.2:3): "));
        assert!(looks_like(r#"{"SyslogMessage":"type=AUOMS_EXECVE audit(1.2:3): x=1"}"#));
        assert!(!looks_like(r#"{"type":"x","audit":"y"}"#));
        assert!(!looks_like("type=foo bar"));
        assert!(!looks_like("Feb 21 21:54:44 localhost sshd[3402]: x"));
    }

    #[test]
    fn records_join_into_one_execve_event() {
        let out = decode_all(&EXEC);
        assert_eq!(out.len(), 1);
        let n = &out[0];
        assert_eq!(n.ocsf["type_uid"], 100701);
        assert_eq!(n.sigma["type"], serde_json::json!(["SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE"]));
        assert_eq!(n.sigma["a0"], "arp");
        assert_eq!(n.sigma["a1"], "-a");
        assert_eq!(n.sigma["CommandLine"], "arp -a");
        assert_eq!(n.sigma["Image"], "/usr/sbin/arp");
        assert_eq!(n.sigma["User"], "1000");
        assert_eq!(n.sigma["SYSCALL"], "execve");
        assert_eq!(n.sigma["name"], serde_json::json!(["/usr/sbin/arp", "/lib64/ld-linux-x86-64.so.2"]));
        assert_eq!(n.sigma["proctitle"], "arp -a");
        assert_eq!(n.logsource, LogSource::new(Some("linux"), Some("process_creation"), Some("auditd")));
        assert_eq!(n.time.unwrap().timestamp_millis(), 1604994496155);
        assert!(matches!(&n.raw, RawRecord::Text(t) if t.lines().count() == 6));
    }

    #[test]
    fn eoe_and_linger_and_bound_emit_events() {
        let mut d = AuditdDecoder::default();
        let mut out = Vec::new();
        d.decode(EXEC[0], &mut out).unwrap();
        d.decode("type=EOE msg=audit(1604994496.155:92733): ", &mut out).unwrap();
        assert_eq!(out.len(), 1, "EOE completes the event");
        out.clear();
        d.decode("type=SYSCALL msg=audit(100.0:1): arch=c000003e syscall=2 success=yes", &mut out).unwrap();
        d.decode("type=SYSCALL msg=audit(101.0:2): arch=c000003e syscall=2 success=yes", &mut out).unwrap();
        assert!(out.is_empty(), "one second later the first event may still be arriving");
        d.decode("type=SYSCALL msg=audit(102.0:3): arch=c000003e syscall=2 success=yes", &mut out).unwrap();
        assert_eq!(out.len(), 1, "two seconds later it is complete");
        assert_eq!(out[0].ocsf["metadata"]["uid"], "100.0:1");
        out.clear();
        let mut d = AuditdDecoder::default();
        for i in 0..=MAX_PENDING as u64 {
            d.decode(&format!("type=PATH msg=audit(3.0:{i}): name=\"x\""), &mut out).unwrap();
        }
        assert_eq!(out.len(), 1, "the oldest open event goes out first");
        assert_eq!(out[0].ocsf["metadata"]["uid"], "3.0:0");
        assert_eq!(d.pending.len(), MAX_PENDING);
        d.flush(&mut out);
        assert_eq!(out.len(), MAX_PENDING + 1);
    }

    #[test]
    fn user_auth_is_authentication() {
        let line = "type=USER_AUTH msg=audit(1610000000.123:456): pid=1 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:authentication grantors=? acct=\"alice\" exe=\"/usr/sbin/sshd\" hostname=1.2.3.4 addr=1.2.3.4 terminal=ssh res=failed'";
        let out = decode_all(&[line]);
        let n = &out[0];
        assert_eq!(n.ocsf["class_uid"], 3002);
        assert_eq!(n.ocsf["status"], "Failure");
        assert_eq!(n.ocsf["user"]["name"], "alice");
        assert_eq!(n.ocsf["src_endpoint"]["ip"], "1.2.3.4");
        assert_eq!(n.sigma["User"], "alice");
        assert_eq!(n.sigma["SourceIp"], "1.2.3.4");
        assert_eq!(n.sigma["type"], "USER_AUTH");
    }

    #[test]
    fn connect_with_sockaddr() {
        let out = decode_all(&[
            "type=SYSCALL msg=audit(1.5:7): arch=c000003e syscall=42 success=no exit=-115 a0=3 a1=7ffd a2=10 a3=0 items=0 ppid=1 pid=2 auid=0 uid=0 comm=\"nc\" exe=\"/usr/bin/nc.openbsd\" key=\"network_connect_4\"",
            "type=SOCKADDR msg=audit(1.5:7): saddr=02000050C0A8010A0000000000000000",
        ]);
        let n = &out[0];
        assert_eq!(n.ocsf["class_uid"], 4001);
        assert_eq!(n.ocsf["dst_endpoint"]["ip"], "192.168.1.10");
        assert_eq!(n.ocsf["dst_endpoint"]["port"], 80);
        assert_eq!(n.sigma["DestinationIp"], "192.168.1.10");
        assert_eq!(n.sigma["a0"], "3", "without EXECVE, SYSCALL's a0 stays");
        assert_eq!(n.logsource.category.as_deref(), Some("network_connection"));
    }

    #[test]
    fn sockaddr_families() {
        assert_eq!(sockaddr("0A00001"), None, "odd length is not hex");
        assert_eq!(sockaddr("0A000016"), None, "too short for an IPv6 address");
        let v6 = sockaddr("0A0000160000000020010DB8000000000000000000000001").unwrap();
        assert_eq!(v6, SockAddr::Inet { ip: "2001:db8::1".parse().unwrap(), port: 22 });
        assert_eq!(
            sockaddr("01002F72756E2F6E7363642F736F636B657400").unwrap(),
            SockAddr::Unix("/run/nscd/socket".into())
        );
        assert_eq!(sockaddr("0100006162630000").unwrap(), SockAddr::Unix("@abc".into()));
        assert_eq!(sockaddr("10000000").unwrap(), SockAddr::Other(16));
    }

    #[test]
    fn file_event_resolves_relative_names() {
        let out = decode_all(&[
            "type=SYSCALL msg=audit(1.5:8): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c items=2 ppid=1 pid=2 uid=0 auid=1000 comm=\"touch\" exe=\"/usr/bin/touch\" key=\"cron\"",
            "type=CWD msg=audit(1.5:8): cwd=\"/etc/cron.d\"",
            "type=PATH msg=audit(1.5:8): item=0 name=\"/etc/cron.d\" inode=1 nametype=PARENT",
            "type=PATH msg=audit(1.5:8): item=1 name=\"evil\" inode=2 nametype=CREATE",
        ]);
        let n = &out[0];
        assert_eq!((n.ocsf["class_uid"].as_u64(), n.ocsf["activity_id"].as_u64()), (Some(1001), Some(1)));
        assert_eq!(n.sigma["TargetFilename"], "/etc/cron.d/evil");
        assert_eq!(n.ocsf["file"]["path"], "/etc/cron.d/evil");
        assert_eq!(n.logsource.category.as_deref(), Some("file_event"));
        assert_eq!(n.sigma["SYSCALL"], "openat");
    }

    #[test]
    fn split_execve_arguments_are_reassembled() {
        let out = decode_all(&[
            "type=SYSCALL msg=audit(1.5:9): arch=c000003e syscall=59 success=yes exit=0 ppid=1 pid=2 uid=0 comm=\"sh\" exe=\"/bin/sh\"",
            "type=EXECVE msg=audit(1.5:9): argc=3 a0=\"sh\" a1=\"-c\" a2_len=10 a2[0]=\"echo \"",
            "type=EXECVE msg=audit(1.5:9): a2[1]=6869212121",
        ]);
        assert_eq!(out[0].sigma["CommandLine"], "sh -c echo hi!!!");
        assert_eq!(out[0].sigma["a2"], "echo hi!!!");
        assert!(out[0].sigma.as_value().get("a2_len").is_none());
    }

    #[test]
    fn json_envelope() {
        let rec = r#"{"Computer":"UBUNTU5","Type":"Syslog","SyslogMessage":"type=AUOMS_EXECVE audit(1652292622.082:84151): syscall=execve success=yes pid=17801 ppid=17800 user=tomcat uid=1001 comm=\"basename\" exe=\"/usr/bin/basename\" cwd=\"/\" path_name=[\"/usr/bin/basename\",\"/lib64/ld-linux-x86-64.so.2\"] argc=2 cmdline=\"basename /usr/bin/lesspipe\" redactors= containerid="}"#;
        assert!(looks_like(rec));
        let out = decode_all(&[rec]);
        let n = &out[0];
        assert_eq!(n.ocsf["class_uid"], 1007);
        assert_eq!(n.ocsf["device"]["hostname"], "UBUNTU5");
        assert_eq!(n.sigma["CommandLine"], "basename /usr/bin/lesspipe");
        assert_eq!(n.sigma["User"], "tomcat");
        assert_eq!(n.sigma["path_name"], serde_json::json!(["/usr/bin/basename", "/lib64/ld-linux-x86-64.so.2"]));
        assert!(matches!(n.raw, RawRecord::Json(_)));
        let mut d = AuditdDecoder::default();
        let err = d.decode(r#"{"SyslogMessage":5}"#, &mut Vec::new()).unwrap_err();
        assert_eq!(err.reason, DeadLetterReason::InvalidJson);
        let err = d.decode(r#"{"other":"type= audit("}"#, &mut Vec::new()).unwrap_err();
        assert_eq!(err.reason, DeadLetterReason::MissingField);
    }

    #[test]
    fn enriched_names_win() {
        let line = "type=SYSCALL msg=audit(1.5:10): arch=c000003e syscall=59 success=yes exit=0 ppid=1 pid=2 auid=1000 uid=0 comm=\"id\" exe=\"/usr/bin/id\"\x1dARCH=x86_64 SYSCALL=execve AUID=\"alice\" UID=\"root\"";
        let n = &decode_all(&[line])[0];
        assert_eq!(n.sigma["User"], "root");
        assert_eq!(n.sigma["SYSCALL"], "execve");
        assert_eq!(n.ocsf["actor"]["user"], serde_json::json!({"name": "alice", "uid": "1000"}));
    }
}
